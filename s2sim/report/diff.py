"""Compare two reports metric by metric: which changed, which got worse beyond tolerance."""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass

from s2sim.errors import S2SimError
from s2sim.report.metrics import HIGHER, LOWER, NEUTRAL, direction, report_metrics
from s2sim.report.schema import Report


@dataclass(frozen=True)
class MetricChange:
    metric: str
    old: float | None
    new: float | None
    direction: str
    rel_change: float  # (new - old) / |old|; inf when old is 0 and new is not
    verdict: str  # "worse" | "better" | "changed" (within tolerance or neutral) | "added"/"removed"


def _rel(old: float, new: float) -> float:
    if old == new:
        return 0.0
    if old == 0:
        return math.copysign(math.inf, new)
    return (new - old) / abs(old)


def diff_reports(
    old: Report, new: Report, rtol: float = 0.02, metrics: list[str] | None = None
) -> list[MetricChange]:
    """Changed metrics (exact comparison decides "changed"; ``rtol`` decides worse/better)."""
    if rtol < 0:
        raise S2SimError(f"--rtol {rtol}: must be >= 0")
    a, b = report_metrics(old), report_metrics(new)
    names = sorted(set(a) | set(b))
    if metrics:
        selected = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in metrics)]
        if not selected:
            raise S2SimError(
                f"--metric {' '.join(metrics)}: matches no metric of these reports "
                f"(e.g. {', '.join(names[:4])})"
            )
        names = selected
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
        verdict = "changed"
        if abs(rel) > rtol and d in (LOWER, HIGHER):
            worse = rel > 0 if d == LOWER else rel < 0
            verdict = "worse" if worse else "better"
        out.append(MetricChange(n, a[n], b[n], d, rel, verdict))
    return out


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
        rows.append((c.metric, _fmt(c.old), _fmt(c.new), rel, c.direction, c.verdict.upper()
                     if c.verdict == "worse" else c.verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
