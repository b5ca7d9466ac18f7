"""The one cost model: handler cycles are op counts priced by the spec's cycle table."""

import numpy as np
import pytest

from firmware_py.cost import OP_CLASSES, CostModel, Ops
from s2sim.spec import load_spec


def test_every_piece_uses_known_instruction_classes():
    cm = CostModel(load_spec())
    for name, (ops, rd, wr) in cm.mixes.items():
        assert set(ops) <= set(OP_CLASSES), name
        assert cm.c(name) > 0 and rd >= 0 and wr >= 0


def test_prices_follow_the_spec_table():
    base = CostModel(load_spec())
    ops, _, _ = base.mixes["slice_nnz"]
    slow = CostModel(load_spec(overrides={"cpu.cycles.fp_fma": 10}))
    assert slow.c("slice_nnz") - base.c("slice_nnz") == 7 * ops["fp_fma"]
    # the exp unit is priced by the accelerator table
    ex = CostModel(load_spec(overrides={"accelerators.exp_driver_cycles": 100}))
    assert ex.c("slice_unit") - base.c("slice_unit") == 3 * (100 - base.table["exp"])


def test_cycles_by_hand():
    cm = CostModel(load_spec())
    t = cm.table
    assert cm.cycles(Ops(load=2, fp_fma=1)) == 2 * t["load"] + t["fp_fma"]
    nnz = np.array([0, 1, 10])
    np.testing.assert_array_equal(cm.slice_event_cycles(nnz),
                                  cm.c("slice_event") + cm.c("slice_nnz") * nnz)
    assert cm.slice_tick_cycles(4, 2) == (cm.c("slice_tick") + 4 * cm.c("slice_unit")
                                          + 2 * cm.c("slice_fire"))
    assert cm.irq_cycles == t["irq_entry"] + t["irq_exit"]


def test_ops_arithmetic_and_unknown_class():
    a = Ops(load=1) + Ops(load=2, alu=1)
    assert a == {"load": 3, "alu": 1} and (2 * a)["load"] == 6
    with pytest.raises(KeyError):
        Ops(teleport=1)
