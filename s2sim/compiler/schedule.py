"""Schedule stage: when each sender sends within a tick (``firmware_py.schedule`` says why).

Senders of a phase go in groups of ``group_size``; a group sends all its events at once at the
start of its window, sized so that the expected burst (group_size x activity x units) fills at
most half a packet queue, and the window lasts as long as the receivers need to drain it at their
*mean* handler time per event (+ 25 %). The handler times come from each slice's core kind
(``CoreKind.schedule_costs``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from firmware_py.cost import CostModel
from firmware_py.kinds import KINDS, kind_of
from firmware_py.schedule import SendSchedule
from s2sim.errors import CompileError

__all__ = ["schedule_sends", "check_schedule", "INPUT_CHUNK_CYCLES", "SLOT_MARGIN",
           "NOC_CROSSING_CYCLES"]

# Longest stretch of paced input sends handed to the NoC at once (cycles): the NoC reserves a
# send when it is handed over (one next-free time per resource, s2sim.hw.noc), so a chunk delays
# other senders' bursts by at most this much.
INPUT_CHUNK_CYCLES = 4096
# Slots and windows are the receivers' mean handler time x this: room for bursts whose rows hold
# more weights than the mean.
SLOT_MARGIN = 1.25
# PE cycles left between the end of the longest tick handler and the first sends, and between
# the two phases, for packets still crossing the mesh. An estimate with a wide margin: the
# longest path (~16 hops x spec noc.cycles_per_hop, + the router pipeline) is ~100 NoC cycles.
NOC_CROSSING_CYCLES = 500


@dataclass
class _Costs:
    """Per PE: summed mean handler cycles per event and worst tick handler of its slices."""

    event: dict[int, int]
    tick: dict[int, int]
    input_event: dict[int, int]  # PEs of layer-0 slices: mean cycles of an input event


def _slice_costs(network, infos, placed: dict[str, int], cm: CostModel) -> _Costs:
    cache: dict = {}
    costs = _Costs({}, {}, {})
    egru = KINDS["egru"]
    for s in infos:
        s.mean_event_cycles, s.tick_cycles_max = kind_of(s).schedule_costs(s, network, cm, cache)
    for s in infos:
        pe = placed[s.id]
        costs.event[pe] = costs.event.get(pe, 0) + s.mean_event_cycles
        costs.tick[pe] = costs.tick.get(pe, 0) + s.tick_cycles_max
        if s.kind == "egru" and s.layer == 0:
            # the input window only feeds layer 0: its own mean (W rows only)
            costs.input_event[pe] = (costs.input_event.get(pe, 0)
                                     + egru.mean_input_event_cycles(s, network, cm, cache))
    return costs


def _phase_of_layer(layer: int) -> int:
    """Odd layers send in phase 0 (with the input source), even layers in phase 1."""
    return 0 if layer % 2 else 1


def _receiver_costs(infos, placed, n_layers: int) -> list[dict[int, int]]:
    """Per phase: PE -> mean event cycles of the receivers of that phase's senders (layers l and
    l+1 of each sending layer l, the readout)."""
    recv: list[dict[int, int]] = [{}, {}]
    for s in infos:
        if s.kind == "input":
            continue
        pe = placed[s.id]
        for ph in (0, 1):
            src_layers = [l_ for l_ in range(n_layers) if _phase_of_layer(l_) == ph]
            if any(s.layer in (sl, sl + 1) for sl in src_layers):
                recv[ph][pe] = recv[ph].get(pe, 0) + s.mean_event_cycles
    return recv


def _slot(costs: dict[int, int], irq: int) -> int:
    return int(math.ceil(SLOT_MARGIN * (max(costs.values(), default=0) + irq)))


def schedule_sends(network, infos, placed: dict[str, int], cm: CostModel, *, activity: float,
                   queue_depth: int) -> SendSchedule:
    """The send schedule; sets each slice's ``mean_event_cycles``/``tick_cycles_max`` and each
    EGRU sender's ``send_phase``/``send_slot``."""
    irq = cm.irq_cycles
    costs = _slice_costs(network, infos, placed, cm)
    slot_a = int(math.ceil(SLOT_MARGIN * (max(costs.input_event.values()) + irq)))
    start_a = max(costs.tick.values()) + irq + NOC_CROSSING_CYCLES
    senders = [s for s in infos if s.kind == "egru" and s.key_base is not None]
    recv = _receiver_costs(infos, placed, len(network.layers))
    max_u = max((len(s.units) for s in senders), default=0)
    per_sender = max(1, int(math.ceil(float(activity) * max_u)))  # expected events
    n_in = network.input.n_out
    chunk = max(1, min(n_in, INPUT_CHUNK_CYCLES // max(1, slot_a)))
    delay = chunk * slot_a  # the most the input's chunk can delay a phase-0 group (cycles)
    slot0 = _slot(recv[0], irq)

    def room_for(g: int) -> int:
        """Queue room left when a group arrives: receiver r (c_r cycles per packet) may still
        hold max(0, D c_r + delay - W) / c_r packets of the previous group, delayed by the
        input source's chunk, in a window W = D x slot sized for D packets."""
        D = g * per_sender
        held = 0
        for c in recv[0].values():
            c_r = c + irq
            held = max(held, int(math.ceil(max(0, D * c_r + delay - D * slot0) / c_r)))
        return queue_depth - held

    group_size = max(1, (queue_depth // 2) // per_sender)  # a group's burst fills half a queue
    # ... and, where a group of one allows it, even a group whose every unit fires fits the
    # queue room (the worst-case burst a receiver can see from one group)
    while group_size > 1 and group_size * max_u > room_for(group_size):
        group_size -= 1
    starts, slots, counts, group_starts = [], [], [], []
    t = start_a
    for ph in (0, 1):
        members = [s for s in senders if _phase_of_layer(s.layer) == ph]
        slot = _slot(recv[ph], irq)
        for j, s in enumerate(members):
            s.send_phase, s.send_slot = ph, j // group_size
        gs, t_g = [], t
        for k in range(-(-len(members) // group_size)):
            gs.append(int(t_g))
            n_k = min(group_size, len(members) - k * group_size)
            t_g += n_k * per_sender * slot  # receivers drain the group's expected burst
        dur = t_g - t if ph else max(t_g - t, n_in * slot_a)
        starts.append(int(t))
        slots.append(slot)
        counts.append(len(gs))
        group_starts.append(gs)
        t += dur + NOC_CROSSING_CYCLES
    tolerated = _tolerated_activity(room_for(group_size), sum(counts), group_size * per_sender,
                                    group_size * max_u)
    # the on-chip decoder's blocks send their best rows after the phases, one readout handler
    # slot each, so the readout's queue holds one at a time
    blocks = [s for s in infos if s.kind == "decoder"]
    dec_start = dec_slot = None
    if blocks:
        dec_start = int(t)
        dec_slot = int(math.ceil(SLOT_MARGIN * (cm.c("readout_best") + irq)))
        t += len(blocks) * dec_slot + NOC_CROSSING_CYCLES
    return SendSchedule(start_a_cycles=int(start_a), slot_a_cycles=slot_a,
                        input_chunk_events=int(chunk), queue_depth=int(queue_depth),
                        tolerated_activity=round(float(tolerated), 4),
                        phase_start_cycles=starts, phase_slot_cycles=slots, phase_groups=counts,
                        group_size=group_size, group_start_cycles=group_starts,
                        est_end_cycles=int(t), decoder_start_cycles=dec_start,
                        decoder_slot_cycles=dec_slot)


def _tolerated_activity(room: int, n_groups: int, drained: int, worst_group: int) -> float:
    """The activity a schedule holds: a receiver drains (at least) ``drained`` packets per
    window; with a per-group burst b above that, the backlog grows by the excess per group, so
    over the n groups of a tick the queue peaks at n*b - (n-1)*D (+ the chunk delay's packets).
    The largest b that keeps this within the queue room, per worst-case group (group_size x
    largest slice), is the tolerated firing fraction."""
    if room < drained:
        b_max = float(max(0, room))
    else:
        b_max = (room + (n_groups - 1) * drained) / max(1, n_groups)
    return min(1.0, b_max / worst_group) if worst_group else 1.0


def check_schedule(sch: SendSchedule, *, activity: float, cycles_per_tick: int, tick_s: float,
                   pl: int) -> None:
    """Refuse a schedule whose sends overrun the tick or whose queues cannot hold the activity."""
    if sch.est_end_cycles > cycles_per_tick:
        raise CompileError(
            f"send schedule overruns the tick: at the assumed activity {activity:.2f} the events "
            f"of a step are sent by cycle ~{sch.est_end_cycles}, a tick of {tick_s * 1e6:g} us "
            f"at PL{pl} has {cycles_per_tick}; use a longer tick (tick_period_s='auto' / "
            f"--tick-s auto picks the shortest that fits) or a faster PL")
    if sch.tolerated_activity < activity:
        raise CompileError(
            f"send schedule cannot hold the assumed activity {activity:.2f}: with packet queues "
            f"of {sch.queue_depth} packets, groups of {sch.group_size} senders and "
            f"{sum(sch.phase_groups)} groups per tick, receivers overflow above a firing "
            f"fraction of {sch.tolerated_activity:.3f} (smaller slices or a deeper queue)")
