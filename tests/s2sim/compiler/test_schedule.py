"""The schedule stage (s2sim.compiler.schedule), called directly: groups, phases, windows."""

import math

import pytest

from firmware_py.cost import CostModel
from s2sim.compiler.compile import compile_network
from s2sim.compiler.schedule import (
    NOC_CROSSING_CYCLES,
    _tolerated_activity,
    check_schedule,
    schedule_sends,
)
from s2sim.errors import CompileError

SMALL_SRAM = {"memory.data_sram_bytes": 12000}


NET = dict(sizes=(40, 30, 24), n_in=20, density=0.3, seed=41)  # `net` (conftest)


@pytest.fixture(scope="module")
def mapping(net):
    return compile_network(net, spec_overrides=SMALL_SRAM)


def _schedule(net, m, activity=0.25, queue_depth=None):
    infos = [s.model_copy(deep=True) for s in m.slices]
    for s in infos:
        s.send_phase = s.send_slot = None
        s.mean_event_cycles = s.tick_cycles_max = 0
    sch = schedule_sends(net, infos, m.placement, CostModel(m.load_spec()), activity=activity,
                         queue_depth=queue_depth or m.schedule.queue_depth)
    return sch, infos


def test_the_stage_reproduces_the_compiled_schedule(net, mapping):
    sch, infos = _schedule(net, mapping, activity=mapping.options["activity"])
    assert sch == mapping.schedule
    assert [s.model_dump() for s in infos] == [s.model_dump() for s in mapping.slices]


def test_costs_are_set_on_every_slice(net, mapping):
    _, infos = _schedule(net, mapping)
    for s in infos:
        assert s.mean_event_cycles > 0 or s.kind == "input", s.id
        assert s.tick_cycles_max > 0, s.id


@pytest.mark.parametrize("queue_depth", [8, 256])
def test_groups_phases_and_monotone_start_times(net, mapping, queue_depth):
    activity = 0.5
    sch, infos = _schedule(net, mapping, activity=activity, queue_depth=queue_depth)
    senders = [s for s in infos if s.kind == "egru" and s.key_base is not None]
    max_u = max(len(s.units) for s in senders)
    per_sender = math.ceil(activity * max_u)
    assert sch.group_size == 1 if queue_depth == 8 else sch.group_size >= 1
    if sch.group_size > 1:
        assert sch.group_size * per_sender <= queue_depth // 2  # a burst fills half a queue
    for ph in (0, 1):
        members = [s for s in senders if s.send_phase == ph]
        # odd layers send in phase 0 (with the input), even layers in phase 1
        assert all(s.layer % 2 == (1 if ph == 0 else 0) for s in members)
        assert [s.send_slot for s in members] == [j // sch.group_size
                                                  for j in range(len(members))]
        assert sch.phase_groups[ph] == -(-len(members) // sch.group_size)
        starts = sch.group_start_cycles[ph]
        assert len(starts) == sch.phase_groups[ph]
        assert starts[0] == sch.phase_start_cycles[ph]
        assert all(a < b for a, b in zip(starts, starts[1:], strict=False))
    assert {s.send_phase for s in senders} == {0, 1}
    assert sch.phase_start_cycles[0] == sch.start_a_cycles
    # phase 1 starts after phase 0's groups and the input's paced events, with a gap for the NoC
    assert sch.phase_start_cycles[1] >= sch.group_start_cycles[0][-1] + NOC_CROSSING_CYCLES
    assert sch.phase_start_cycles[1] >= (sch.start_a_cycles + net.input.n_out * sch.slot_a_cycles
                                         + NOC_CROSSING_CYCLES)
    assert sch.est_end_cycles > sch.group_start_cycles[1][-1]
    # the sends start after the longest tick handler of any PE
    worst_tick = max(sum(s.tick_cycles_max for s in infos if mapping.placement[s.id] == pe)
                     for pe in mapping.pes_used())
    assert sch.start_a_cycles > worst_tick


def test_a_shallower_queue_gives_more_groups_and_a_later_end(net, mapping):
    deep, _ = _schedule(net, mapping, activity=0.5, queue_depth=256)
    shallow, _ = _schedule(net, mapping, activity=0.5, queue_depth=8)
    assert sum(shallow.phase_groups) > sum(deep.phase_groups)
    assert shallow.group_size < deep.group_size
    assert shallow.tolerated_activity <= deep.tolerated_activity


def test_tolerated_activity_cases():
    assert _tolerated_activity(10, 3, 20, 40) == pytest.approx(10 / 40)  # room below one window
    assert _tolerated_activity(100, 3, 20, 200) == pytest.approx((100 + 2 * 20) / 3 / 200)
    assert _tolerated_activity(100, 1, 20, 50) == 1.0  # capped at every unit firing
    assert _tolerated_activity(-5, 2, 20, 50) == 0.0
    assert _tolerated_activity(10, 3, 20, 0) == 1.0  # no senders


def test_check_schedule_refuses_a_short_tick_and_too_much_activity(mapping):
    sch = mapping.schedule
    kw = {"tick_s": 1e-3, "pl": mapping.pl}
    check_schedule(sch, activity=sch.tolerated_activity, cycles_per_tick=sch.est_end_cycles, **kw)
    with pytest.raises(CompileError, match=rf"overruns the tick.*by cycle ~{sch.est_end_cycles}, "
                                           rf"a tick of 1000 us at PL{mapping.pl} has "
                                           rf"{sch.est_end_cycles - 1}"):
        check_schedule(sch, activity=0.1, cycles_per_tick=sch.est_end_cycles - 1, **kw)
    with pytest.raises(CompileError, match="cannot hold the assumed activity"):
        check_schedule(sch, activity=sch.tolerated_activity + 0.01,
                       cycles_per_tick=10**9, **kw)
