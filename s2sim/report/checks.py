"""What a report's numbers must satisfy, and which of its checks failed.

``check_values`` runs on every report loaded (``s2sim.report.io.load_report``): the schema says
which fields exist and their types; this says what the values may be. Every number is finite
(JSON ``NaN``/``Infinity`` are refused), the physical sections (chip figures, deployment, per-PE
and per-step rows, GPU baselines, ratios, quality) hold no negative number, and a complete run
on a timed engine has its chip figures (``s2``) and ``deployment``.

``failed_checks`` lists the chip-side checks a run failed (tick overruns, dropped and undelivered
packets, steps whose output never reached the host, event mismatches): the summary prints them
and any of them makes the figures untrustworthy.
"""

from __future__ import annotations

import math

from s2sim.errors import ReportError

# sections whose numbers are physical quantities or counts (never negative)
NON_NEGATIVE = ("deployment", "s2", "per_pe", "per_step", "gpu", "ratios", "quality", "machine")
TIMED_ENGINES = ("analytic", "des")


def _numbers(obj, path: str):
    """(dotted path, number) of every number under ``obj`` (bools are not numbers here)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _numbers(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _numbers(v, f"{path}[{i}]")
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        yield path, obj


def check_values(data: dict, where: str) -> None:
    """Raise ReportError (one line naming the field) for a value no run can produce."""
    for path, v in _numbers(data, ""):
        if not math.isfinite(v):
            raise ReportError(f"report {where}: field {path} is {v} (not a finite number)")
        if v < 0 and path.split(".")[0].split("[")[0] in NON_NEGATIVE:
            raise ReportError(f"report {where}: field {path} is {v:g}; it cannot be negative")
    w = data.get("workload") or {}
    # a machine run the engine did not time (analytic: link traffic only) has no chip figures
    untimed = isinstance(data.get("machine"), dict) and data["machine"].get("timed") is False
    if data.get("complete") and w.get("engine") in TIMED_ENGINES and not untimed:
        for section in ("s2", "deployment"):
            if data.get(section) is None:
                raise ReportError(f"report {where}: a complete run on the {w.get('engine')} "
                                  f"engine has no {section} section (truncated or edited)")


def failed_checks(s2) -> list[str]:
    """Why the chip figures of ``s2`` (S2Totals) are not trustworthy, one phrase each."""
    why = []
    if s2.tick_overruns:
        why.append(f"{s2.tick_overruns} tick overruns (a PE still busy when its next tick "
                   "fired: lengthen --tick-s)")
    if s2.dropped_packets:
        why.append(f"{s2.dropped_packets} dropped packets (full packet queues: bursts exceed "
                   "the queue depth)")
    if s2.undelivered_packets:
        why.append(f"{s2.undelivered_packets} undelivered packets (still in the NoC when the "
                   "run ended: the NoC cannot carry the traffic in time)")
    if s2.missing_host_outputs:
        why.append(f"{s2.missing_host_outputs} steps without an output at the host (latency "
                   "is over the other steps only)")
    if s2.event_mismatches:
        why.append(f"{s2.event_mismatches} event mismatches vs the numpy reference")
    if s2.decoder_token_mismatches:
        why.append(f"{s2.decoder_token_mismatches} tokens of the on-chip decoder differ from "
                   "the reference's")
    return why


def checks_line(s2) -> str:
    """The summary's one-line account of the checks."""
    mism = (f"mismatches vs reference not checked ({s2.mismatches_not_checked})"
            if s2.mismatches_not_checked else
            f"{s2.event_mismatches} event / {s2.value_mismatches} value mismatches vs reference")
    if s2.decoder_token_mismatches is not None:
        mism += f", {s2.decoder_token_mismatches} decoder token mismatches"
    return (f"checks: {s2.dropped_packets} dropped / {s2.undelivered_packets} undelivered "
            f"packets, {s2.missing_host_outputs} missing host outputs, {s2.tick_overruns} tick "
            f"overruns, {mism}")
