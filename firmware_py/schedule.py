"""The send schedule of a mapping's senders (computed by the compiler, docs/compiler.md).

The PE runtime runs handlers without preemption, so a packet that arrives while a PE is in its
tick handler waits in the packet queue (depth ``spec.timing.packet_queue_depth``), and a burst
from many senders at once overflows it. The programs therefore send at fixed times of each tick,
counted from the tick's nominal start (all PEs share the timer), after the longest tick handler
of the chip:

- phase 0: the input source sends its events one every ``slot_a`` cycles (the mean per-event
  handler time of its receivers, the layer-0 slices, with a margin) in one burst; at the same
  time the slices of the odd layers (1, 3, ...) send, whose receivers (layers 1-2, 3-4, ...) are
  disjoint from the input's;
- phase 1, after phase 0: the slices of the even layers (0, 2, ...).
Within a phase the senders go in groups; a group sends all its events at the start of its window
(back to back), the window being long enough for the receivers to drain the expected burst,
which is sized to half a packet queue. Sending in bursts at known times also lets the simulator
hand each receiver a group's packets as one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from s2sim.hw.dvfs import cycles_to_ps, ps_to_cycles

__all__ = ["SenderSlot", "delay_until"]


@dataclass(frozen=True)
class SenderSlot:
    """When one sender sends: all its events from ``start_cycles`` of the tick, one every
    ``period_cycles`` (0: back to back, as fast as the send code runs)."""

    tick_period_ps: int
    start_cycles: int
    period_cycles: int

    def target_ps(self, tick: int, frequency_hz: float) -> int:
        return tick * self.tick_period_ps + cycles_to_ps(int(self.start_cycles), frequency_hz)


def delay_until(pe, target_ps: int, charged_cycles: int) -> int:
    """``delay_cycles`` for ``pe.user_event`` called after ``charged_cycles`` of the running
    handler so that the event is due at ``target_ps`` (0 if that time has passed)."""
    f = pe.frequency_hz
    irq_in = int(pe.spec.cpu.cycles.irq_entry.value)
    ahead = ps_to_cycles(max(0, target_ps - pe.now_ps), f) - irq_in - charged_cycles
    return max(0, int(ahead))
