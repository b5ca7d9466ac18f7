"""Speed of the simulated chip (s2sim.hw): packet deliveries and idle ticks per wall second.

    python benchmarks/bench_chip_speed.py [--ticks 200] [--packets 1] [--idle-ticks 2000]

1. All-to-all: each of the 152 PEs sends ``--packets`` multicast packets per tick (1-word
   payload) to all 151 other PEs, one every 20,000 cycles (the tick handler sends the first, a
   chain of user events the others); every delivery is handled by ``on_packets`` (20 cycles
   per packet). Figure: simulated packet deliveries per wall second
   (target >= 200,000 on one core, issue 2).
2. Idle chip: 152 PEs with an empty timer handler (the per-tick cost of the event loop), and
   152 PEs asleep without a timer. Figure: simulated ticks per wall second.

Wall times are of ``chip.run`` only (set-up is reported apart); a short warm-up run first
compiles the numba kernel so compilation is not counted.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np

from s2sim.hw import Chip, Program
from s2sim.spec import load_spec

TARGET_DELIVERIES_PER_S = 200_000


class AllToAll(Program):
    """Round r of its packets goes out at tick + r x ``gap_cycles`` (a user event per round), so
    each destination handles one burst of 151 packets before the next arrives."""

    name = "all_to_all"

    def __init__(self, key: int, packets: int, gap_cycles: int = 20_000):
        self.key = np.array([key], dtype=np.uint32)
        self.packets = packets
        self.gap_cycles = gap_cycles
        self.received = 0

    def _send(self, pe, tick):
        pe.charge(50)
        pe.send(self.key, np.array([[tick]], dtype=np.uint32))

    def on_tick(self, pe, tick):
        self._send(pe, tick)
        if self.packets > 1:
            pe.user_event((tick, 1), delay_cycles=self.gap_cycles)

    def on_user_event(self, pe, arg):
        tick, r = arg
        self._send(pe, tick)
        if r + 1 < self.packets:
            pe.user_event((tick, r + 1), delay_cycles=self.gap_cycles)

    def on_packets(self, pe, keys, payloads):
        self.received += len(keys)
        return np.full(len(keys), 20, dtype=np.int64)


class Idle(Program):
    name = "idle"

    def on_tick(self, pe, tick):
        pass


class Asleep(Program):
    name = "asleep"


def all_to_all(spec, ticks: int, packets: int) -> dict:
    t0 = time.perf_counter()
    chip = Chip(spec)
    for i, pid in enumerate(chip.pes):
        chip.load(pid, AllToAll(i, packets))
        chip.router.add(i, 0xFFFFFFFF, pes=set(chip.pes) - {pid})
    t1 = time.perf_counter()
    res = chip.run(ticks=ticks)
    t2 = time.perf_counter()
    s = res.summary()
    deliveries = s["packets_received"]
    return {"setup_s": t1 - t0, "run_s": t2 - t1, "deliveries": deliveries,
            "expected": 152 * 151 * packets * ticks, "queue_full": s["queue_full"],
            "tick_overruns": s["tick_overruns"], "per_s": deliveries / (t2 - t1)}


def idle(spec, ticks: int, program) -> dict:
    chip = Chip(spec)
    for pid in chip.pes:
        chip.load(pid, program())
    t1 = time.perf_counter()
    chip.run(ticks=ticks)
    t2 = time.perf_counter()
    return {"run_s": t2 - t1, "ticks_per_s": ticks / (t2 - t1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=200)
    ap.add_argument("--packets", type=int, default=1, help="packets per PE per tick")
    ap.add_argument("--idle-ticks", type=int, default=2000)
    args = ap.parse_args(argv)
    spec = load_spec()
    all_to_all(spec, 2, 1)  # warm-up: numba compile / cache load
    print(f"machine: {platform.machine()} {platform.processor() or ''} python "
          f"{platform.python_version()} (single thread)")
    for packets in sorted({1, args.packets}):
        r = all_to_all(spec, args.ticks, packets)
        ok = "OK" if r["deliveries"] == r["expected"] else "MISMATCH"
        print(f"all-to-all 152 PEs, {packets} packet(s)/PE/tick, {args.ticks} ticks: "
              f"{r['deliveries']:,} deliveries ({ok}) in {r['run_s']:.2f} s "
              f"-> {r['per_s']:,.0f} deliveries/s "
              f"({r['per_s'] / TARGET_DELIVERIES_PER_S:.2f} x target {TARGET_DELIVERIES_PER_S:,}); "
              f"set-up {r['setup_s']:.2f} s; queue_full {r['queue_full']}, "
              f"overruns {r['tick_overruns']}")
    r = idle(spec, args.idle_ticks, Idle)
    print(f"idle chip, 152 PEs with an empty tick handler: {r['ticks_per_s']:,.0f} ticks/s "
          f"({args.idle_ticks} ticks in {r['run_s']:.2f} s)")
    r = idle(spec, args.idle_ticks, Asleep)
    print(f"idle chip, 152 PEs asleep (no timer): {r['ticks_per_s']:,.0f} ticks/s "
          f"({args.idle_ticks} ticks in {r['run_s']:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
