"""The place stage (s2sim.compiler.place), called directly: placers, pins, per-PE budgets."""

import pytest

from s2sim.compiler.compile import _target
from s2sim.compiler.partition import partition_network
from s2sim.compiler.place import (
    PLACERS,
    check_pe_budgets,
    get_placer,
    place_slices,
    serpentine_pes,
)
from s2sim.compiler.random_net import random_network
from s2sim.compiler.slices import describe_slices
from s2sim.errors import CompileError, ResourceError
from s2sim.spec.models import decode_pe_id

SMALL_SRAM = {"memory.data_sram_bytes": 12000}


@pytest.fixture(scope="module")
def staged():
    net = random_network(sizes=(40, 30), n_in=20, density=0.3, seed=3)
    tg = _target(net, None, None, SMALL_SRAM, None, None, None, {})
    part = partition_network(net, tg.budget, tg.cost, "by_units", pl=tg.pl,
                             cycles_per_tick=tg.cycles_per_tick)
    return tg, describe_slices(net, part, tg.budget, tg.cost)


def _place(staged, placer="locality", pins=None, seed=0, max_pes=None):
    tg, infos = staged
    return place_slices(infos, tg.spec, placer, pins=pins, seed=seed,
                        max_pes=tg.max_pes if max_pes is None else max_pes,
                        bytes_available=tg.budget.bytes_available,
                        cycles_available=tg.budget.cycles_available, pl=tg.pl)


@pytest.mark.parametrize("placer", sorted(PLACERS))
def test_every_slice_on_its_own_chip_pe_and_pins_honoured(staged, placer):
    tg, infos = staged
    pe_pin = tg.spec.pe_ids()[-1]
    name, placed, pins = _place(staged, placer, pins={"L1.S0": pe_pin})
    assert name == placer and pins == {"L1.S0": pe_pin}
    assert list(placed) == [s.id for s in infos]
    assert placed["L1.S0"] == pe_pin
    assert set(placed.values()) <= set(tg.spec.pe_ids())
    assert len(set(placed.values())) == len(infos)  # one slice per PE: SRAM is small


def test_locality_puts_input_and_readout_on_the_bridge_qpe(staged):
    tg, _ = staged
    _, placed, _ = _place(staged)
    bridge = tuple(int(v) for v in tg.spec.host.bridge_qpe.value)
    for sid in ("input", "readout"):
        assert decode_pe_id(placed[sid])[:2] == bridge, sid


def test_serpentine_is_a_permutation_starting_at_the_bridge(staged):
    tg, _ = staged
    free = tg.spec.pe_ids()
    order = serpentine_pes(tg.spec, free)
    assert sorted(order) == free
    bridge = tuple(int(v) for v in tg.spec.host.bridge_qpe.value)
    n = int(tg.spec.organisation.pes_per_qpe.value)
    assert {decode_pe_id(p)[:2] for p in order[:n]} == {bridge}
    # columns are walked nearest to the bridge first, each column's QPEs in one sweep
    qpes = list(dict.fromkeys(decode_pe_id(p)[:2] for p in order))
    cols = list(dict.fromkeys(q[0] for q in qpes))
    assert cols == sorted(cols, key=lambda x: (abs(x - bridge[0]), x))
    for x in cols[1:]:
        ys = [q[1] for q in qpes if q[0] == x]
        assert ys in (sorted(ys), sorted(ys, reverse=True)), x


def test_random_placer_is_seeded(staged):
    a = _place(staged, "random", seed=1)[1]
    assert a == _place(staged, "random", seed=1)[1]
    assert a != _place(staged, "random", seed=2)[1]


def test_pin_errors_name_the_pin(staged):
    tg, _ = staged
    missing = max(tg.spec.pe_ids()) + 1
    assert missing not in tg.spec.pe_ids()
    with pytest.raises(CompileError, match=f"pin input={missing}: PE {missing} is not a PE"):
        _place(staged, pins={"input": missing})
    with pytest.raises(CompileError, match="pin L7.S0=.*no slice 'L7.S0'"):
        _place(staged, pins={"L7.S0": tg.spec.pe_ids()[0]})


def test_two_slices_over_sram_on_one_pe_raise_resource_error_naming_the_pe(staged):
    _, placed, _ = _place(staged)
    table = dict(placed)
    table["L0.S1"] = table["L0.S0"]
    pe = table["L0.S0"]
    with pytest.raises(ResourceError, match=rf"^PE {pe} \(QPE \d,\d\): slices L0.S0, L0.S1 "
                                            r"need \d+ bytes of data SRAM together"):
        _place(staged, table)


def test_placer_errors_unplaced_off_chip_and_too_many_pes(staged):
    tg, infos = staged
    with pytest.raises(CompileError, match=r"placement \(table\) left \d+ slice\(s\) unplaced, "
                                           "first input"):
        _place(staged, {})  # the empty table
    PLACERS["offchip"] = lambda p: {s: 100000 for s in p.slice_ids}
    try:
        with pytest.raises(CompileError, match="puts input on PE 100000, not a PE of this chip"):
            _place(staged, "offchip")
    finally:
        del PLACERS["offchip"]
    with pytest.raises(CompileError, match=f"uses {len(infos)} PEs, --max-pes is 3"):
        _place(staged, max_pes=3)
    with pytest.raises(CompileError, match="placer 'nope' unknown"):
        get_placer("nope")


def test_check_pe_budgets_cycles_of_several_slices(staged):
    tg, infos = staged
    a, b = infos[1], infos[2]
    budget = a.est_cycles_per_step + b.est_cycles_per_step - 1
    pe = tg.spec.pe_ids()[0]
    check_pe_budgets({pe: [a]}, tg.spec, 10**9, a.est_cycles_per_step - 1, tg.pl)  # one: fine
    with pytest.raises(ResourceError, match=f"PE {pe}: slices {a.id}, {b.id} need ~"):
        check_pe_budgets({pe: [a, b]}, tg.spec, 10**9, budget, tg.pl)
