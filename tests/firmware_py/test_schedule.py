"""SenderSlot: chunk times of the paced input source (firmware_py/schedule.py)."""

from firmware_py.schedule import SenderSlot
from s2sim.hw.dvfs import cycles_to_ps


def test_chunk_targets_follow_the_pacing():
    f = 300e6
    s = SenderSlot(tick_period_ps=10**9, start_cycles=1000, period_cycles=200, chunk_events=20)
    assert s.chunk_target_ps(3, 0, f) == s.target_ps(3, f) == 3 * 10**9 + cycles_to_ps(1000, f)
    # chunk j starts where the pacing of its first event would be: start + j * 20 * 200 cycles
    assert s.chunk_target_ps(3, 2, f) == 3 * 10**9 + cycles_to_ps(1000 + 2 * 20 * 200, f)
    # a slot without chunks (mappings from before chunking) sends everything at the start
    old = SenderSlot(tick_period_ps=10**9, start_cycles=1000, period_cycles=200)
    assert old.chunk_events == 0 and old.chunk_target_ps(3, 0, f) == old.target_ps(3, f)


# -- SendSchedule and sender_slot ----------------------------------------------------------------

def _mapping():
    from s2sim.compiler.compile import compile_network
    from s2sim.compiler.random_net import random_network

    net = random_network(sizes=(40, 30, 20), n_in=16, density=0.3, seed=7)
    return compile_network(net, spec_overrides={"memory.data_sram_bytes": 12000})


def test_sender_slot_of_each_kind():
    from firmware_py.schedule import sender_slot

    m = _mapping()
    sch = m.schedule
    inp = sender_slot(m, m.slice("input"))
    assert inp == SenderSlot(m.tick_period_ps, sch.start_a_cycles, sch.slot_a_cycles,
                             sch.input_chunk_events)
    for s in m.slices:
        if s.kind == "egru" and s.key_base is not None:
            slot = sender_slot(m, s)
            assert slot.start_cycles == sch.group_start_cycles[s.send_phase][s.send_slot]
            assert slot.period_cycles == 0 and slot.chunk_events == 0  # a burst
    assert sender_slot(m, m.slice("readout")) is None  # sends nothing on chip
    no_slot = m.slice("L0.S0").model_copy(update={"send_slot": None})
    assert sender_slot(m, no_slot) is None
    assert sender_slot(m.model_copy(update={"schedule": None}), m.slice("input")) is None


def test_send_schedule_is_strict_and_round_trips():
    import pytest
    from pydantic import ValidationError

    from firmware_py.schedule import SendSchedule

    sch = _mapping().schedule
    assert SendSchedule.model_validate_json(sch.model_dump_json()) == sch
    with pytest.raises(ValidationError):
        SendSchedule.model_validate({**sch.model_dump(), "extra_field": 1})


def test_delay_until():
    from types import SimpleNamespace

    from firmware_py.schedule import delay_until
    from s2sim.spec import load_spec

    spec = load_spec()
    f = 250e6  # 4000 ps per cycle: no rounding
    irq = int(spec.cpu.cycles.irq_entry.value)
    pe = SimpleNamespace(frequency_hz=f, spec=spec, now_ps=cycles_to_ps(1000, f))
    assert delay_until(pe, cycles_to_ps(5000, f), 100) == 5000 - 1000 - irq - 100
    assert delay_until(pe, 0, 0) == 0  # already past
