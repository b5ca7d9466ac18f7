"""Compare two reports metric by metric: which changed, which got worse beyond tolerance."""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass

from s2sim.errors import S2SimError
from s2sim.report.metrics import HIGHER, LOWER, NEUTRAL, direction, report_metrics, total_of
from s2sim.report.schema import Report


@dataclass(frozen=True)
class MetricChange:
    metric: str
    old: float | None
    new: float | None
    direction: str
    rel_change: float  # (new - old) / |old|; inf when old is 0 and new is not
    verdict: str  # "worse" | "better" | "changed" (within tolerance or neutral) | "added"/"removed"
    # with --share, for a part of a total: (new - old) / |old total|; None otherwise
    share_change: float | None = None


def _rel(old: float, new: float) -> float:
    if old == new:
        return 0.0
    if old == 0:
        return math.copysign(math.inf, new)
    return (new - old) / abs(old)


def diff_reports(
    old: Report, new: Report, rtol: float = 0.02, metrics: list[str] | None = None,
    atol: float = 0.0, share: float | None = None, shared_only: bool = False,
) -> list[MetricChange]:
    """Changed metrics (exact comparison decides "changed"; the tolerances decide worse/better).

    A change counts (worse or better, by the metric's direction) when it is larger than ``atol``
    in the metric's own unit and larger than ``rtol`` relative to the old value; with ``share``,
    a metric that is a part of a total (an energy component, a layer's share:
    ``s2sim.report.metrics.total_of``) counts instead when its change is larger than ``share``
    of the old total. ``shared_only``: only the metrics both reports have (reports of
    different deployments, ``hardware_of``: a machine's links and a chip's per-layer parts
    have no counterpart), else a metric only one has is listed as added or removed."""
    for flag, v in (("--rtol", rtol), ("--atol", atol), ("--share", share)):
        if v is not None and not v >= 0:
            raise S2SimError(f"{flag} {v}: must be >= 0")
    a, b = report_metrics(old), report_metrics(new)
    names = _select(sorted(set(a) & set(b) if shared_only else set(a) | set(b)), metrics)
    out: list[MetricChange] = []
    for n in names:
        d = direction(n)
        if n not in a or n not in b:
            out.append(MetricChange(n, a.get(n), b.get(n), d, math.nan,
                                    "added" if n not in a else "removed"))
            continue
        if a[n] == b[n]:
            continue
        rel = _rel(a[n], b[n])
        total = total_of(n) if share is not None else None
        part = _rel(0.0, b[n] - a[n]) if total is None else (
            (b[n] - a[n]) / abs(a[total]) if a.get(total) else math.copysign(math.inf, b[n] - a[n]))
        counts = abs(b[n] - a[n]) > atol and (
            abs(rel) > rtol if total is None else abs(part) > share)
        verdict = "changed"
        if counts and d in (LOWER, HIGHER):
            worse = rel > 0 if d == LOWER else rel < 0
            verdict = "worse" if worse else "better"
        out.append(MetricChange(n, a[n], b[n], d, rel, verdict,
                                None if total is None else part))
    return out


def _select(names: list[str], metrics: list[str] | None) -> list[str]:
    if not metrics:
        return names
    selected = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in metrics)]
    if not selected:
        raise S2SimError(
            f"--metric {' '.join(metrics)}: matches no metric of these reports "
            f"(e.g. {', '.join(names[:4])}; `s2sim diff --list-metrics REPORT` lists them)"
        )
    return selected


def list_metrics(report: Report | None = None) -> str:
    """The metric names ``s2sim diff`` compares, with the direction that is better and the
    total a part is judged against with --share: a report's own, or the rules without one."""
    if report is None:
        from s2sim.report.metrics import _PARTS, _RULES

        lines = ["metric names are dotted paths into report.json (pass a report to list its own);",
                 "direction by the first matching rule (regex -> better):"]
        lines += [f"  {p:<48} {d}" for p, d in _RULES]
        lines += ["anything else: neutral (shown, never fails)",
                  "parts of a total (judged against it with --share):"]
        lines += [f"  {p:<48} of {t}" for p, t in _PARTS]
        return "\n".join(lines)
    rows = [("metric", "better", "part of (--share)")]
    rows += [(n, direction(n), total_of(n) or "") for n in sorted(report_metrics(report))]
    w = [max(len(r[i]) for r in rows) for i in range(2)]
    return "\n".join(f"{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]}".rstrip() for r in rows)


def regressions(changes: list[MetricChange]) -> list[MetricChange]:
    return [c for c in changes if c.verdict == "worse"]


def missing_metrics(changes: list[MetricChange]) -> list[MetricChange]:
    """Metrics one report has and the other lacks (a difference, like a regression); neutral
    ones (GPU baselines, sizes) are shown but, as for their changes, never fail."""
    return [c for c in changes if c.verdict in ("added", "removed") and c.direction != NEUTRAL]


def check_comparable(old: Report, new: Report, where: tuple[str, str] = ("old", "new")) -> None:
    """Refuse (one line) to compare reports of different workloads: another kind of bench or
    another step (token vs frame) has other metrics, so every difference would be meaningless."""
    for field in ("kind", "step_name"):
        a, b = getattr(old.workload, field), getattr(new.workload, field)
        if a != b:
            raise S2SimError(f"{where[0]} and {where[1]} are reports of different workloads "
                             f"(workload.{field} {a!r} vs {b!r}): nothing to compare")


def hardware_of(report: Report) -> str:
    """What a report ran on: "one chip", or its machine and the chips it used."""
    m = report.machine
    return "one chip" if m is None else f"{m.name} ({m.chips_used} chips)"


def same_kind_of_hardware(old: Report, new: Report) -> bool:
    """Whether both ran on one chip or both on a machine (then every metric has its
    counterpart; else only those both have compare)."""
    return (old.machine is None) == (new.machine is None)


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v)}"
    return f"{v:.6g}"


def format_changes(changes: list[MetricChange]) -> str:
    if not changes:
        return "no metric changed"
    rows = [("metric", "old", "new", "change", "better", "verdict")]
    for c in changes:
        rel = "" if math.isnan(c.rel_change) else (
            "inf" if math.isinf(c.rel_change) else f"{c.rel_change * 100:+.2f}%"
        )
        if c.share_change is not None and not math.isinf(c.share_change):
            rel += f" ({c.share_change * 100:+.4f}% of total)"
        rows.append((c.metric, _fmt(c.old), _fmt(c.new), rel, c.direction, c.verdict.upper()
                     if c.verdict == "worse" else c.verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
