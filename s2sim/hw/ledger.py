"""Counts of what happened in a run (the ledger) — kept apart from prices (``energy.py``).

Everything here is a count: cycles, picoseconds, MACs, bytes, packets, hops. ``price(counts,
spec)`` turns counts into joules, so the same run can be re-priced with another spec.

Per-PE counters are ``(n_pes, n_columns)`` int64 arrays (row = ``pe_index``, the position of
the PE id in ``chip.pes``; column = tick period in which the work started). Per-PL counters are
``(n_pes, n_pls)`` totals. NoC counters are ``(n_columns,)`` arrays (tick of the send). By
default there is one column per tick; ``chip.run(ticks, ticks_per_column=m)`` sums m ticks per
column, for long runs (each column costs about 27 kB).
"""

from __future__ import annotations

import dataclasses
import io
import os
from dataclasses import dataclass, field

import numpy as np

from s2sim.atomic import write_bytes_atomic
from s2sim.errors import S2SimError

# Per-PE, per-tick counters. Names are the ledger's vocabulary; ``pe.count(name=...)`` accepts
# the ones marked "program" (the others are booked by the runtime itself).
PE_FIELDS = (
    "active_cycles",       # runtime: handler cycles incl. interrupt entry/exit
    "active_ps",           # runtime: time executing handlers (clipped to the run)
    "sleep_ps",            # runtime: powered, not executing and not switching PL (WFI)
    "switch_ps",           # runtime: time stalled in PL switches
    "off_ps",              # runtime: time powered off (PE not loaded)
    "handlers",            # runtime: handler invocations (one per packet for packet batches)
    "ticks_handled",       # runtime: timer-tick handlers run
    "packets_sent",        # runtime: multicast packets sent by this PE
    "packets_received",    # runtime: packets handed to on_packets
    "queue_full",          # runtime: packets dropped because the packet queue was full
    "queue_peak",          # runtime: most packets waiting in the queue at a packet's arrival
                           # (the arriving one included; a maximum over the column, not a sum)
    "tick_overruns",       # runtime: the PE was still busy when the next tick fired
    "pl_switches",         # runtime: DVFS switches
    "host_tx_bytes",       # runtime: bytes sent to the host over Ethernet
    "dma_bytes",           # runtime: bytes moved by this PE's DMA (priced: SRAM writes)
    "dram_bytes",          # runtime: DRAM bytes of those DMA transfers (priced: DRAM)
    "macs",                # program: MACs on the MLA (priced per MAC per PL)
    "cpu_macs",            # program: multiply-accumulates on the Cortex-M4F (in active_cycles)
    "sram_read_bytes",     # program: CPU SRAM reads (already in active-cycle energy)
    "sram_written_bytes",  # program: CPU SRAM writes (already in active-cycle energy)
    "exp_calls",           # program: exp unit invocations
    "log_calls",           # program: log unit invocations
    "synaptic_events",     # program: application-level events (metrics only)
)
PROGRAM_FIELDS = frozenset(
    ("macs", "cpu_macs", "sram_read_bytes", "sram_written_bytes", "exp_calls", "log_calls",
     "synaptic_events")
)
RUNTIME_FIELDS = frozenset(PE_FIELDS) - PROGRAM_FIELDS
MAX_FIELDS = frozenset(("queue_peak",))  # per-column maxima (every other counter is a sum)
PL_FIELDS = ("residency_ps", "cycles", "macs")
NOC_FIELDS = (
    "packets",          # multicast packets into the NoC (PE sends + host injections)
    "flits",            # flit transmissions: one per packet to the router + one per dest QPE
    "hops",             # link traversals of those flits
    "router_lookups",   # event-router lookups
    "deliveries",       # packets delivered to a loaded PE's queue
    "dropped",          # deliveries to PEs that are powered off (not loaded)
    "link_packets",     # packets sent out of chip links
    "host_rx_packets",  # packets (to_host calls) delivered to the host
    "host_injected",    # packets injected by the host
)


@dataclass
class Counts:
    """All counts of one run. Arrays are numpy; see the module doc for shapes."""

    pe_ids: list[int]
    tick_period_ps: int
    n_ticks: int
    duration_ps: int
    loaded: np.ndarray                 # (n_pes,) bool: powered on for the run
    pe: dict[str, np.ndarray]          # PE_FIELDS + extra program counters -> (n_pes, n_ticks)
    pl: dict[str, np.ndarray]          # PL_FIELDS -> (n_pes, n_pls)
    noc: dict[str, np.ndarray]         # NOC_FIELDS -> (n_ticks,)
    link_packets_per_link: np.ndarray  # (chip_links,)
    undelivered: int = 0               # packets still queued or in flight at the end
    ticks_per_column: int = 1          # ticks summed in one column of the per-tick arrays
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def n_pes(self) -> int:
        return len(self.pe_ids)

    @property
    def n_columns(self) -> int:
        return -(-self.n_ticks // self.ticks_per_column)

    @property
    def duration_s(self) -> float:
        return self.duration_ps / 1e12

    def __getitem__(self, name: str) -> np.ndarray:
        for d in (self.pe, self.noc, self.pl):
            if name in d:
                return d[name]
        raise S2SimError(
            f"no counter {name!r} (per-PE: {', '.join(self.pe)}; NoC: {', '.join(self.noc)}; "
            f"per-PL: {', '.join(self.pl)})"
        )

    def total(self, name: str) -> int:
        return int(self[name].sum())

    def per_pe(self, name: str) -> np.ndarray:
        a = self.pe[name] if name in self.pe else self.pl[name]
        return a.sum(axis=1)

    def per_tick(self, name: str) -> np.ndarray:
        if name in self.noc:
            return self.noc[name]
        return self.pe[name].sum(axis=0)

    def totals(self) -> dict[str, int]:
        """Every counter summed over PEs, ticks and PLs (plain ints; stable key order)."""
        out = {k: int(v.max() if k in MAX_FIELDS else v.sum()) if v.size else 0
               for k, v in self.pe.items()}
        out.update({f"noc_{k}": int(v.sum()) for k, v in self.noc.items()})
        out.update({f"pl_{k}": int(v.sum()) for k, v in self.pl.items()})
        out["undelivered"] = int(self.undelivered)
        return out

    @classmethod
    def concatenate(cls, counts: list[Counts]) -> Counts:
        """The counts of runs played back to back, as one run: per-tick (column) arrays
        concatenated in order, per-PL and per-link totals summed, ``loaded`` = loaded in any run.

        For a bench that runs one mapping on several independent inputs (the gesture samples,
        each on a fresh chip) and reports them as one run. Exact when every run lasts a whole
        number of columns (the engines end runs on a tick). ``extra["runs"]`` records how many
        runs were joined. The runs must share PE ids, tick period and ticks per column.
        """
        if not counts:
            raise S2SimError("Counts.concatenate: no counts to concatenate")
        c0 = counts[0]
        for c in counts:
            if (c.tick_period_ps != c0.tick_period_ps or c.pe_ids != c0.pe_ids
                    or c.ticks_per_column != c0.ticks_per_column):
                raise S2SimError("Counts.concatenate: the runs differ in PE ids, tick period or "
                                 "ticks per column")
        return dataclasses.replace(
            c0,
            n_ticks=sum(c.n_ticks for c in counts),
            duration_ps=sum(c.duration_ps for c in counts),
            loaded=np.any([c.loaded for c in counts], axis=0),
            pe={k: np.concatenate([c.pe[k] for c in counts], axis=1) for k in c0.pe},
            pl={k: np.sum([c.pl[k] for c in counts], axis=0) for k in c0.pl},
            noc={k: np.concatenate([c.noc[k] for c in counts]) for k in c0.noc},
            link_packets_per_link=np.sum([c.link_packets_per_link for c in counts], axis=0),
            undelivered=sum(c.undelivered for c in counts),
            extra={"runs": len(counts)},
        )

    def save(self, path) -> None:
        """Write the counts to an ``.npz`` file (atomically), for re-pricing later."""
        arrays = {"pe_ids": np.asarray(self.pe_ids, dtype=np.int64),
                  "loaded": self.loaded, "link_packets_per_link": self.link_packets_per_link,
                  "meta": np.array([self.tick_period_ps, self.n_ticks, self.duration_ps,
                                    self.undelivered, self.ticks_per_column], dtype=np.int64)}
        for group, d in (("pe", self.pe), ("pl", self.pl), ("noc", self.noc)):
            for k, v in d.items():
                arrays[f"{group}__{k}"] = v
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        write_bytes_atomic(os.fspath(path), buf.getvalue())

    @classmethod
    def load(cls, path) -> Counts:
        try:
            z = np.load(os.fspath(path))
            meta = z["meta"]
            groups: dict[str, dict[str, np.ndarray]] = {"pe": {}, "pl": {}, "noc": {}}
            for name in z.files:
                if "__" in name:
                    g, k = name.split("__", 1)
                    groups[g][k] = z[name]
            return cls(pe_ids=[int(x) for x in z["pe_ids"]], tick_period_ps=int(meta[0]),
                       n_ticks=int(meta[1]), duration_ps=int(meta[2]), loaded=z["loaded"],
                       pe=groups["pe"], pl=groups["pl"], noc=groups["noc"],
                       link_packets_per_link=z["link_packets_per_link"],
                       undelivered=int(meta[3]), ticks_per_column=int(meta[4]))
        except (OSError, KeyError, ValueError) as exc:
            raise S2SimError(f"counts file {path}: cannot read ({exc})") from None


class Ledger:
    """Mutable counters filled during a run; ``freeze()`` gives the Counts."""

    def __init__(self, pe_ids: list[int], n_pls: int, n_ticks: int, tick_period_ps: int,
                 chip_links: int, ticks_per_column: int = 1):
        self.pe_ids = list(pe_ids)
        n = len(pe_ids)
        self.n_ticks = int(n_ticks)
        self.ticks_per_column = int(ticks_per_column)
        self.n_columns = max(-(-self.n_ticks // self.ticks_per_column), 1)
        self.last_tick = self.n_columns - 1  # last column index
        self.tick_period_ps = int(tick_period_ps)
        self.col_ps = self.tick_period_ps * self.ticks_per_column
        cols = self.n_columns
        self.pe = {k: np.zeros((n, cols), dtype=np.int64) for k in PE_FIELDS}
        self.pl = {k: np.zeros((n, n_pls), dtype=np.int64) for k in PL_FIELDS}
        self.noc = {k: np.zeros(cols, dtype=np.int64) for k in NOC_FIELDS}
        self.link_packets = np.zeros(max(int(chip_links), 0), dtype=np.int64)
        # Program counters are summed in dicts during the run (a numpy scalar update per
        # pe.count() call dominated the DES run time) and written into ``pe`` by ``freeze``:
        # (index, tick) -> {name: sum}, one tuple key per pe.count() call, not per counter.
        self._prog_acc: dict[tuple[int, int], dict[str, int]] = {}
        self._prog_ok = set(PROGRAM_FIELDS)

    def tick_of(self, t_ps: int) -> int:
        """Column of the time ``t_ps`` (clipped to the last one)."""
        k = int(t_ps) // self.col_ps
        return k if k < self.last_tick else self.last_tick

    def ticks_of(self, t_ps: np.ndarray) -> np.ndarray:
        return np.minimum(t_ps // self.col_ps, self.last_tick)

    def col_of_tick(self, tick: int) -> int:
        k = int(tick) // self.ticks_per_column
        return k if k < self.last_tick else self.last_tick

    def cols_of_ticks(self, ticks: np.ndarray) -> np.ndarray:
        return np.minimum(ticks // self.ticks_per_column, self.last_tick)

    def powered_ps_per_column(self) -> np.ndarray:
        """Picoseconds of run time in each column (the last may hold fewer ticks)."""
        ticks = np.full(self.n_columns, self.ticks_per_column, dtype=np.int64)
        ticks[-1] = self.n_ticks - self.ticks_per_column * (self.n_columns - 1)
        return ticks * self.tick_period_ps

    def add_program(self, index: int, tick: int, counters: dict, who: str) -> None:
        ok = self._prog_ok
        sums = None
        for name, value in counters.items():
            if type(value) is not int or value < 0 or name not in ok:
                value = self._check_program(name, value, who)
            if value:
                if sums is None:
                    sums = self._prog_acc.setdefault((index, tick), {})
                sums[name] = sums.get(name, 0) + value

    def _check_program(self, name, value, who: str) -> int:
        """Validate one program counter (creating a program's own counter array); its int."""
        if isinstance(value, bool) or int(value) != value or value < 0:
            raise S2SimError(f"{who}: counter {name}={value!r} must be a non-negative integer")
        if name not in self._prog_ok:
            if name not in self.pe:
                if not isinstance(name, str) or not name.isidentifier():
                    raise S2SimError(f"{who}: counter name {name!r} is not an identifier")
                # Programs may keep their own counters next to the ledger's names.
                self.pe[name] = np.zeros_like(self.pe["active_cycles"])
            elif name in RUNTIME_FIELDS:
                allowed = ", ".join(sorted(PROGRAM_FIELDS))
                raise S2SimError(f"{who}: counter {name!r} is booked by the runtime, not by "
                                 f"programs (program counters: {allowed})")
            self._prog_ok.add(name)
        return int(value)

    def _write_program(self) -> None:
        for (index, tick), sums in self._prog_acc.items():
            for name, value in sums.items():
                self.pe[name][index, tick] += value
        self._prog_acc = {}

    def add_interval(self, field_name: str, index: int, start_ps: int, end_ps: int,
                     run_end_ps: int) -> None:
        """Book ``[start, end)`` clipped to the run into per-tick picoseconds of ``field_name``."""
        end_ps = min(end_ps, run_end_ps)
        if end_ps <= start_ps:
            return
        arr = self.pe[field_name]
        P = self.col_ps
        k0, k1 = start_ps // P, (end_ps - 1) // P
        if k0 == k1:
            arr[index, k0] += end_ps - start_ps
            return
        t = start_ps
        for k in range(k0, k1 + 1):
            e = min(end_ps, (k + 1) * P)
            arr[index, k] += e - t
            t = e

    def freeze(self, loaded: np.ndarray, duration_ps: int, undelivered: int) -> Counts:
        self._write_program()
        return Counts(pe_ids=self.pe_ids, tick_period_ps=self.tick_period_ps,
                      n_ticks=self.n_ticks, duration_ps=int(duration_ps), loaded=loaded.copy(),
                      pe=self.pe, pl=self.pl, noc=self.noc, link_packets_per_link=self.link_packets,
                      undelivered=int(undelivered), ticks_per_column=self.ticks_per_column)
