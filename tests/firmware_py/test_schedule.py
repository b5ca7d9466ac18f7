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
