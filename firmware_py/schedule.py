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
The input source hands its paced events to the comms controller in chunks (``chunk_events``),
each from its own user event, never a whole step's worth at once: a send is reserved on the NoC
when it is handed over, and the NoC model keeps one next-free time per resource (s2sim.hw.noc),
so 750 events paced over ~150k cycles handed over in one go would hold the event router's
routing engines until the last of them and delay every other sender's burst behind it — the
bursts then pile up at the receivers and overflow their queues. A chunk bounds that delay to
``chunk_events x period_cycles`` (``schedule["input_chunk_events"]``, compiler).
Within a phase the senders go in groups; a group sends all its events at the start of its window
(back to back), the window being long enough for the receivers to drain the expected burst,
which is sized to half a packet queue. Sending in bursts at known times also lets the simulator
hand each receiver a group's packets as one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from s2sim.hw.dvfs import cycles_to_ps, ps_to_cycles

__all__ = ["SendSchedule", "SenderSlot", "sender_slot", "delay_until"]


class SendSchedule(BaseModel):
    """The send schedule of a mapping (computed by ``s2sim.compiler.schedule``), in cycles from
    the tick's nominal start. Part of the Mapping JSON."""

    model_config = ConfigDict(extra="forbid")

    start_a_cycles: int  # phase 0 (and the input source's sends) start here
    slot_a_cycles: int  # the input source sends one event per slot
    input_chunk_events: int = 0  # input events handed to the NoC at a time (0: all at once)
    queue_depth: int = 0  # the packet-queue depth the schedule was sized for (0: unknown)
    tolerated_activity: float = 1.0  # largest firing fraction the queues hold
    phase_start_cycles: list[int]
    phase_slot_cycles: list[int]  # receivers' drain time per event, per phase
    phase_groups: list[int]  # groups of senders per phase
    group_size: int  # senders per group
    group_start_cycles: list[list[int]]  # per phase, per group: when its senders send
    est_end_cycles: int  # when the sends of a step end, at the assumed activity
    # with the decoder on the chip: when the first block sends its best row to the readout, and
    # the slot between blocks (None otherwise)
    decoder_start_cycles: int | None = None
    decoder_slot_cycles: int | None = None


@dataclass(frozen=True)
class SenderSlot:
    """When one sender sends: all its events from ``start_cycles`` of the tick, one every
    ``period_cycles`` (0: back to back, as fast as the send code runs), handed to the comms
    controller ``chunk_events`` at a time (0: all at once), each chunk from its own user event
    at ``start_cycles + j * chunk_events * period_cycles``."""

    tick_period_ps: int
    start_cycles: int
    period_cycles: int
    chunk_events: int = 0

    def chunk_target_ps(self, tick: int, chunk: int, frequency_hz: float) -> int:
        off = int(chunk) * int(self.chunk_events) * int(self.period_cycles)
        return tick * self.tick_period_ps + cycles_to_ps(int(self.start_cycles) + off,
                                                         frequency_hz)

    def target_ps(self, tick: int, frequency_hz: float) -> int:
        return tick * self.tick_period_ps + cycles_to_ps(int(self.start_cycles), frequency_hz)


def sender_slot(mapping, s) -> SenderSlot | None:
    """The SenderSlot of slice ``s`` (None when the mapping has no schedule or s sends nothing)."""
    sch = mapping.schedule
    if sch is None or s.key_base is None:
        return None
    if s.kind == "input":
        # the whole input in one burst, one event per slot (the receivers' mean handler time),
        # handed over in chunks
        return SenderSlot(mapping.tick_period_ps, sch.start_a_cycles, sch.slot_a_cycles,
                          sch.input_chunk_events)
    if s.send_slot is None:
        return None
    start = sch.group_start_cycles[s.send_phase][s.send_slot]
    return SenderSlot(mapping.tick_period_ps, start, 0)


def delay_until(pe, target_ps: int, charged_cycles: int) -> int:
    """``delay_cycles`` for ``pe.user_event`` called after ``charged_cycles`` of the running
    handler so that the event is due at ``target_ps`` (0 if that time has passed)."""
    f = pe.frequency_hz
    irq_in = int(pe.spec.cpu.cycles.irq_entry.value)
    ahead = ps_to_cycles(max(0, target_ps - pe.now_ps), f) - irq_in - charged_cycles
    return max(0, int(ahead))
