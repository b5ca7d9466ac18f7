"""A machine of SpiNNaker2 chips in one simulation: one ``EventLoop`` per chip, one SimPy
environment, and the chip-to-chip links between them (``s2sim.spec.machine`` has the topology).

A chip's router resolves a packet's route word to local PEs and/or chip links (its table, as on
one chip). A packet routed to link d of chip c enters that link's ``LinkChannel``: the link sends
one 96-bit packet at a time at its bandwidth (6 Gbit/s on a board, 2 Gbit/s long-range: 16 ns /
48 ns per packet), then the packet takes the link's latency to reach the far chip's event router,
where it is looked up in that chip's table (delivered to its PEs, forwarded on its links). A link
holds at most ``link_queue_packets`` packets (waiting or being sent); a packet that finds it full
waits in the router for a place up to ``link_wait_s`` (both machine.yaml, EST), else it is
dropped and counted. The router's stall of other traffic while it waits is not modelled.
Packets of one simulated instant enter the links in router-time order (the NoC's documented
approximation: reservations in processing order).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import simpy

from s2sim.errors import S2SimError
from s2sim.hw.dvfs import seconds_to_ps

__all__ = ["LinkChannel", "serialise", "MachineSim"]


class LinkChannel:
    """One directed chip link: a FIFO of at most ``queue`` packets served at ``packet_ps``; a
    packet finding it full waits in the router for a place up to ``wait_ps``, then is dropped."""

    def __init__(self, packet_ps: int, latency_ps: int, queue: int, wait_ps: int = 0):
        if packet_ps < 1 or latency_ps < 0 or queue < 1 or wait_ps < 0:
            raise S2SimError(f"link: packet time {packet_ps} ps, latency {latency_ps} ps, queue "
                             f"{queue}, wait {wait_ps} ps: must be >= 1, >= 0, >= 1, >= 0")
        self.packet_ps, self.latency_ps, self.queue = int(packet_ps), int(latency_ps), int(queue)
        self.wait_ps = int(wait_ps)
        self.free = 0
        self._out: deque[int] = deque()  # send-end times of the packets in the link
        self.sent = 0
        self.dropped = 0
        self.busy_ps = 0

    def offer(self, t: int) -> int:
        """A packet reaching the link at ``t``: its arrival time at the far router, or -1 if the
        link's queue is full (dropped)."""
        q = self._out
        t = int(t)
        while q and q[0] <= t:
            q.popleft()
        a = t
        if len(q) >= self.queue:
            a = q[len(q) - self.queue]  # a place frees when the packet `queue` ahead is sent
            if a - t > self.wait_ps:
                self.dropped += 1
                return -1
        s = max(a, self.free)
        self.free = s + self.packet_ps
        q.append(self.free)
        self.sent += 1
        self.busy_ps += self.packet_ps
        return self.free + self.latency_ps


def serialise(times, packet_ps: int, latency_ps: int, queue: int, wait_ps: int = 0):
    """Arrival times (-1: dropped) of packets reaching one link at ``times`` (in order)."""
    ch = LinkChannel(packet_ps, latency_ps, queue, wait_ps)
    return np.array([ch.offer(int(t)) for t in times], dtype=np.int64)


class MachineSim:
    """Chips (``s2sim.hw.Chip``, one per used machine chip) joined by their links.

    ``chips``: machine chip index -> Chip; ``machine``: the ``Machine`` (neighbours, link
    figures). Packets routed to a link that leads to no chip, or to a chip not simulated, are an
    S2SimError (the compiler's tables never do that)."""

    def __init__(self, machine, chips: dict):
        self.machine = machine
        self.chips = dict(chips)
        bits = machine.packet_bits
        self.links: dict[tuple[int, int], LinkChannel] = {}
        for c in self.chips:
            for d in range(6):
                nb = int(machine.neighbour[c, d])
                if nb < 0:
                    continue
                ps = int(np.ceil(bits * 1e12 / machine.link_bits_per_s(c, d)))
                self.links[(c, d)] = LinkChannel(ps, seconds_to_ps(machine.link_latency_s(c, d)),
                                                 machine.link_queue_packets,
                                                 seconds_to_ps(machine.link_wait_s))
        self._chip_of = {}
        for c, chip in self.chips.items():
            loop = chip._loop
            loop.link_sink = self._sink
            self._chip_of[id(loop)] = c

    def _sink(self, loop, out, keys, pay, widths, ks) -> None:
        c = self._chip_of[id(loop)]
        L = loop.ledger
        by_dest: dict[int, tuple[list, list]] = {}
        for t, ln, i in sorted(out):
            ch = self.links.get((c, ln))
            nb = int(self.machine.neighbour[c, ln]) if ch is not None else -1
            if nb not in self.chips:
                raise S2SimError(f"{self.machine.label(c)}: key {int(keys[i]):#010x} routed to "
                                 f"link {ln}, which leads to no simulated chip")
            arr = ch.offer(t)
            if arr < 0:  # counted by the link (LinkChannel.dropped)
                continue
            L.link_packets[ln] += 1
            L.noc["link_packets"][int(ks[i])] += 1
            ts, idx = by_dest.setdefault(nb, ([], []))
            ts.append(arr)
            idx.append(i)
        for nb, (ts, idx) in by_dest.items():
            dst = self.chips[nb]._loop
            ix = np.asarray(idx, dtype=np.int64)
            k = keys[ix]
            rids = dst.route_ids(k, f"link {self.machine.label(c)}")
            dst.outbox_add(np.asarray(ts, dtype=np.int64), None, rids, k, pay[ix], widths[ix],
                           src_node=dst.noc.router_node)

    def run(self, ticks: int):
        """Run every chip for ``ticks`` tick periods together; {chip: ChipRun}."""
        from s2sim.hw.chip import ChipRun

        env = simpy.Environment()
        begun = {}
        for c, chip in self.chips.items():
            if chip._ran:
                raise S2SimError("MachineSim.run() called twice: build new chips")
            chip._ran = True
            begun[c] = chip._loop.begin(int(ticks), 1, env)
        end = max(chip._loop.run_end_ps for chip in self.chips.values())
        env.run(until=end)
        out = {}
        for c, chip in self.chips.items():
            counts, host_rx, link_tx = chip._loop._finish(begun[c])
            out[c] = ChipRun(counts=counts, host_rx=host_rx, link_tx=link_tx, spec=chip.spec)
        return out

    def link_summary(self, duration_ps: int) -> list[dict]:
        """Per used link: packets sent, dropped, busy fraction over ``duration_ps``."""
        rows = []
        for (c, d), ch in sorted(self.links.items()):
            if ch.sent or ch.dropped:
                rows.append({"chip": c, "link": d, "to": int(self.machine.neighbour[c, d]),
                             "packets": ch.sent, "dropped": ch.dropped,
                             "bits": ch.sent * self.machine.packet_bits,
                             "utilisation": ch.busy_ps / max(duration_ps, 1),
                             "energy_j": ch.sent * self.machine.packet_bits
                             * self.machine.link_energy_j_per_bit(c, d)})
        return rows
