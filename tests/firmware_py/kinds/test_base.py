"""firmware_py.kinds.base and the registry: what every core kind provides, and the ledger
contexts the engines hand it."""

import numpy as np
import pytest

from firmware_py.cost import CostModel
from firmware_py.kinds import KINDS, build_programs, kind_of
from firmware_py.kinds.base import AnalyticContext, CoreKind, align_up, aligned
from s2sim.compiler.compile import compile_network
from s2sim.compiler.random_net import random_network
from s2sim.spec import load_spec


def test_align_up_and_aligned_regions():
    assert [align_up(n, 16) for n in (0, 1, 16, 17)] == [0, 16, 16, 32]
    assert aligned({"a": 3, "empty": 0, "b": 32}, 16) == {"a": 16, "b": 32}


def test_a_kind_must_implement_the_interface():
    class Half(CoreKind):
        name = "half"

        def idle_tick_cycles(self, cm):
            return 1

    with pytest.raises(TypeError):
        Half()


def test_every_registered_kind_is_a_core_kind_named_as_registered():
    assert set(KINDS) == {"input", "egru", "decoder", "readout"}
    for name, kind in KINDS.items():
        assert isinstance(kind, CoreKind) and kind.name == name


def test_book_adds_per_tick_and_ignores_ticks_outside_the_run():
    spec = load_spec()
    pes = spec.pe_ids()
    ctx = AnalyticContext(mapping=None, network=None, spec=spec, cost=CostModel(spec),
                          xs=np.zeros((3, 2), np.float32), ys=[], n_ticks=4,
                          pe={"active_cycles": np.zeros((len(pes), 4), np.int64)},
                          idx_of={p: i for i, p in enumerate(pes)}, receivers={}, routed=set())
    ctx.book(pes[1], np.array([-1, 0, 3, 3, 9]), active_cycles=np.array([5, 1, 2, 4, 7]))
    assert list(ctx.pe["active_cycles"][1]) == [1, 0, 0, 6]
    assert ctx.pe["active_cycles"][0].sum() == 0 and list(ctx.steps) == [0, 1, 2]


def test_build_programs_gives_one_program_per_pe_from_each_slices_kind():
    net = random_network(sizes=(20, 10), n_in=8, density=0.3, seed=2)
    m = compile_network(net)
    pe_progs, progs = build_programs(m, net, load_spec(), n_steps=5)
    assert set(pe_progs) == set(m.pes_used()) and set(progs) == {s.id for s in m.slices}
    for s in m.slices:
        assert progs[s.id].first_tick == s.first_tick
        assert progs[s.id].last_tick == s.first_tick + 4
        assert kind_of(s).name == s.kind
