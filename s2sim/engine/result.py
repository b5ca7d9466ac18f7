"""RunResult: what every engine (functional | analytic | des) returns for a run of a Mapping.

One type for all engines so that reports, benchmarks and cross-checks treat them alike. Fields an
engine cannot know are ``None`` (the functional engine has no time or energy), never zero-filled.

Conventions (see docs/compiler.md):
- ``T`` = number of time steps (tokens for the LM, frames for gesture), ``L`` = EGRU layers.
- Time is integer picoseconds. Per-step latency is measured from the moment the step's input
  leaves the host until the step's output has reached the host (host link included).
- Chip-side counts and energy never include host work; host-side work is in ``host``.
- Per-PE arrays are indexed like ``pe_ids`` (ascending PE id, only the PEs the mapping uses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["RunResult", "Mismatches", "HostWork", "ENGINES", "merge_results"]

ENGINES = ("functional", "analytic", "des")


@dataclass
class Mismatches:
    """Differences of the engine's outputs from the numpy oracle, counted, never hidden.

    An *event mismatch* is a (step, layer, unit) where one side fired and the other did not
    (float32 rounding can move an event by a step when c is within rounding of θ; late packets
    can do it on the chip). A *value mismatch* is a unit where both fired but |Δy| > ``atol``.
    ``late_packets`` counts packets that reached a PE after the step they belong to was closed.
    An engine whose outputs *are* the oracle's (functional, analytic) is not compared: its counts
    would be 0 by construction, so they are reported as not checked (``not_checked`` says why;
    ``to_dict`` gives None for the counts), never as 0.
    """

    compared: bool = False  # False: no oracle comparison was run
    not_checked: str | None = None  # why the outputs were not compared (None: compared, or off)
    atol: float = 1e-5
    event_mismatches: int = 0
    value_mismatches: int = 0
    max_abs_error: float = 0.0
    per_layer_event_mismatches: list[int] = field(default_factory=list)
    first_mismatch: tuple[int, int, int] | None = None  # (step, layer, unit)
    late_packets: int = 0
    diverged_steps: int = 0  # steps at or after the first event mismatch (states differ there)

    @property
    def total(self) -> int:
        return self.event_mismatches + self.value_mismatches

    def to_dict(self) -> dict[str, Any]:
        if self.not_checked:
            return {"compared": False, "not_checked": self.not_checked, "atol": self.atol,
                    "event_mismatches": None, "value_mismatches": None, "max_abs_error": None,
                    "per_layer_event_mismatches": None, "first_mismatch": None,
                    "late_packets": self.late_packets, "diverged_steps": None}
        return {
            "compared": self.compared,
            "atol": self.atol,
            "event_mismatches": self.event_mismatches,
            "value_mismatches": self.value_mismatches,
            "max_abs_error": self.max_abs_error,
            "per_layer_event_mismatches": list(self.per_layer_event_mismatches),
            "first_mismatch": list(self.first_mismatch) if self.first_mismatch else None,
            "late_packets": self.late_packets,
            "diverged_steps": self.diverged_steps,
        }


@dataclass
class HostWork:
    """Work done on the host (not on the chip), reported apart from chip energy.

    ``bytes_to_chip`` / ``bytes_from_chip`` crossed the 1 Gbit/s Ethernet host link;
    ``link_time_ps`` is the total time those transfers occupied the link (already part of the
    per-step latency). ``embedding_lookups`` and ``decoder_macs`` are the host's arithmetic for the
    language model (embedding gather; tied decoder over the events of the last layer).
    """

    embedding_lookups: int = 0
    decoder_macs: int = 0
    bytes_to_chip: int = 0
    bytes_from_chip: int = 0
    packets_to_chip: int = 0
    link_time_ps: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RunResult:
    """The result of ``run_mapping(mapping, inputs, engine=...)``.

    Outputs
        outputs            (T, H_last) float32: graded outputs y of the last EGRU layer per step
                           (what the readout receives).
        layer_outputs      per layer (T, H_l) float32 outputs y.
        readout            (T, n_out) float32 from an on-chip readout with weights, else None.
    Activity
        events_per_step    (T, L) int64: units that fired, per layer and step.
        input_events       (T,) int64: nonzero inputs per step.
        activation_sparsity  per layer: fraction of zero outputs.
        effective_macs_per_step (T,) int64: MACs actually done (nnz of the active rows of W and
                           R); ``dense_macs_per_step`` the dense equivalent (NeuroBench naming).
    Time (None for the functional engine)
        latency_ps         (T,) int64 per-step latency, host link included.
        step_period_ps     simulated time between consecutive steps (the tick period).
        sim_time_ps        simulated time of the whole run.
    Traffic (None for the functional engine)
        packets_per_step   (T,) int64 multicast packets sent on chip (host injections included).
        hops_per_step      (T,) int64 NoC hops those packets travelled.
    Per PE (None for the functional engine)
        pe_ids             PE ids used, ascending.
        pe_counts          counter name -> (n_pe,) int64 totals (active_cycles, macs,
                           packets_sent, packets_received, sram_read_bytes, sram_written_bytes...).
        max_step_cycles    (n_pe,) largest per-step handler cycles of each PE.
    Energy (None for the functional engine)
        counts             the hw counts object (``s2sim.hw`` Counts) the energy was priced from,
                           kept so that a report can re-price it under another spec.
        energy             ``s2sim.hw.price(counts, spec)`` result (EnergyReport).
        energy_j           total chip energy of the run.
    Checks
        mismatches         vs the numpy oracle (see Mismatches).
        dropped_packets, tick_overruns   from the chip (0 where the engine cannot have any).
        undelivered_packets  packets still in the NoC or a queue when the run ended (never
                           reached a PE: e.g. a NoC far too slow for the tick).
        missing_host_outputs steps whose output never reached the host (their ``latency_ps``
                           is -1 and the latency mean leaves them out; any is a failed check).
        host               HostWork.
    """

    engine: str
    n_steps: int
    n_layers: int
    outputs: np.ndarray
    layer_outputs: list[np.ndarray]
    events_per_step: np.ndarray
    input_events: np.ndarray
    activation_sparsity: list[float]
    effective_macs_per_step: np.ndarray
    dense_macs_per_step: int
    readout: np.ndarray | None = None
    # with the decoder on the chip (des): the token the chip sent the host per step (-1: none)
    tokens: np.ndarray | None = None
    latency_ps: np.ndarray | None = None
    step_period_ps: int | None = None
    sim_time_ps: int | None = None
    packets_per_step: np.ndarray | None = None
    hops_per_step: np.ndarray | None = None
    pe_ids: list[int] | None = None
    pe_counts: dict[str, np.ndarray] | None = None
    max_step_cycles: np.ndarray | None = None
    counts: Any = None
    energy: Any = None
    energy_j: float | None = None
    mismatches: Mismatches = field(default_factory=Mismatches)
    dropped_packets: int = 0
    tick_overruns: int = 0
    undelivered_packets: int = 0
    missing_host_outputs: int = 0
    host: HostWork = field(default_factory=HostWork)
    wall_s: float = 0.0  # wall-clock seconds the engine ran (not deterministic; not in summary)
    meta: dict[str, Any] = field(default_factory=dict)

    # -- derived ---------------------------------------------------------------------------------
    @property
    def effective_macs(self) -> int:
        return int(np.sum(self.effective_macs_per_step))

    @property
    def mean_latency_ps(self) -> float | None:
        """Mean latency of the steps whose output reached the host (None: none did)."""
        if self.latency_ps is None:
            return None
        got = np.asarray(self.latency_ps)
        got = got[got >= 0]
        return float(np.mean(got)) if got.size else None

    def failed_checks(self) -> list[str]:
        """The chip-side checks this run failed, one phrase each (empty: all passed)."""
        out = []
        for n, what in ((self.dropped_packets, "dropped packets"),
                        (self.undelivered_packets, "undelivered packets"),
                        (self.missing_host_outputs, "steps without an output at the host"),
                        (self.tick_overruns, "tick overruns"),
                        (self.mismatches.event_mismatches, "event mismatches vs the oracle")):
            if n:
                out.append(f"{n} {what}")
        return out

    @property
    def energy_per_step_j(self) -> float | None:
        if self.energy_j is None or self.n_steps == 0:
            return None
        return self.energy_j / self.n_steps

    def summary(self) -> dict[str, Any]:
        """A JSON-ready, deterministic summary (no wall-clock numbers)."""

        def arr(a):
            return None if a is None else np.asarray(a).tolist()

        out: dict[str, Any] = {
            "engine": self.engine,
            "n_steps": self.n_steps,
            "n_layers": self.n_layers,
            "activation_sparsity": [float(s) for s in self.activation_sparsity],
            "events_per_step_mean": [float(v) for v in np.mean(self.events_per_step, axis=0)]
            if self.n_steps
            else [0.0] * self.n_layers,
            "effective_macs": self.effective_macs,
            "dense_macs_per_step": int(self.dense_macs_per_step),
            "step_period_ps": self.step_period_ps,
            "sim_time_ps": self.sim_time_ps,
            "latency_ps": arr(self.latency_ps),
            "mean_latency_ps": self.mean_latency_ps,
            "packets_per_step": arr(self.packets_per_step),
            "hops_per_step": arr(self.hops_per_step),
            "energy_j": self.energy_j,
            "energy_per_step_j": self.energy_per_step_j,
            "pe_ids": self.pe_ids,
            "pe_counts": None
            if self.pe_counts is None
            else {k: arr(v) for k, v in sorted(self.pe_counts.items())},
            "max_step_cycles": arr(self.max_step_cycles),
            "mismatches": self.mismatches.to_dict(),
            "dropped_packets": self.dropped_packets,
            "tick_overruns": self.tick_overruns,
            "undelivered_packets": self.undelivered_packets,
            "missing_host_outputs": self.missing_host_outputs,
            "host": self.host.to_dict(),
            "meta": self.meta,
        }
        return out


def merge_results(results):
    """One RunResult over several independent runs of the same mapping (samples), for the report:
    per-step arrays concatenated, totals summed, hw counts played back to back."""
    from s2sim.hw.ledger import Counts

    r0 = results[0]

    def cat(name):
        vals = [getattr(r, name) for r in results]
        return None if any(v is None for v in vals) else np.concatenate(vals)

    L = r0.n_layers
    layer_outputs = [np.concatenate([r.layer_outputs[i] for r in results]) for i in range(L)]
    sparsity = [1.0 - float(np.count_nonzero(y)) / y.size if y.size else 0.0
                for y in layer_outputs]
    pe_counts = None
    if r0.pe_counts is not None:
        pe_counts = {k: np.sum([r.pe_counts[k] for r in results], axis=0) for k in r0.pe_counts}
    msc = None
    if r0.max_step_cycles is not None:
        msc = np.max([r.max_step_cycles for r in results], axis=0)
    return RunResult(
        engine=r0.engine, n_steps=sum(r.n_steps for r in results), n_layers=L,
        outputs=cat("outputs"), layer_outputs=layer_outputs,
        events_per_step=cat("events_per_step"), input_events=cat("input_events"),
        activation_sparsity=sparsity, effective_macs_per_step=cat("effective_macs_per_step"),
        dense_macs_per_step=r0.dense_macs_per_step, readout=cat("readout"),
        latency_ps=cat("latency_ps"), step_period_ps=r0.step_period_ps,
        sim_time_ps=None if r0.sim_time_ps is None else sum(r.sim_time_ps for r in results),
        packets_per_step=cat("packets_per_step"), hops_per_step=cat("hops_per_step"),
        pe_ids=r0.pe_ids, pe_counts=pe_counts, max_step_cycles=msc,
        counts=(Counts.concatenate([r.counts for r in results])
                if all(r.counts is not None for r in results) else None),
        energy=_merged_energy(results), energy_j=None if r0.energy_j is None else float(
            sum(r.energy_j for r in results)),
        mismatches=_merged_mismatches(results),
        dropped_packets=sum(r.dropped_packets for r in results),
        tick_overruns=sum(r.tick_overruns for r in results),
        undelivered_packets=sum(r.undelivered_packets for r in results),
        missing_host_outputs=sum(r.missing_host_outputs for r in results),
        host=_merged_host(results),
        meta={**r0.meta, "samples": len(results)},
    )


def _merged_mismatches(results) -> Mismatches:
    r0 = results[0]
    mm = Mismatches(compared=all(r.mismatches.compared for r in results), atol=r0.mismatches.atol,
                    not_checked=next((r.mismatches.not_checked for r in results
                                      if r.mismatches.not_checked), None))
    for r in results:
        m = r.mismatches
        mm.event_mismatches += m.event_mismatches
        mm.value_mismatches += m.value_mismatches
        mm.max_abs_error = max(mm.max_abs_error, m.max_abs_error)
        mm.late_packets += m.late_packets
        mm.diverged_steps += m.diverged_steps
        if mm.first_mismatch is None and m.first_mismatch is not None:
            mm.first_mismatch = m.first_mismatch
    return mm


def _merged_host(results) -> HostWork:
    host = HostWork()
    for r in results:
        for k, v in r.host.to_dict().items():
            setattr(host, k, getattr(host, k) + v)
    return host


def _merged_energy(results):
    r0 = results[0]
    if r0.energy is None:
        return None
    from s2sim.hw.energy import EnergyReport

    comps = {k: float(sum(r.energy.components_j[k] for r in results))
             for k in r0.energy.components_j}
    return EnergyReport(components_j=comps,
                        per_pe_j=np.sum([r.energy.per_pe_j for r in results], axis=0),
                        duration_s=float(sum(r.energy.duration_s for r in results)))
