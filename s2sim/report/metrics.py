"""A report as a flat table of named scalar metrics, and which direction of each is worse.

Names are dotted paths into the report (``s2.energy_per_step_j``,
``s2.energy_by_component_j.noc``, ``ratios.a100.energy_gpu_over_s2``,
``quality.test_perplexity``); ``s2sim diff`` compares these and ``--metric`` selects them.
"""

from __future__ import annotations

import re

from s2sim.report.schema import Report

LOWER = "lower"  # lower is better: a rise beyond tolerance is a regression
HIGHER = "higher"  # higher is better: a fall beyond tolerance is a regression
NEUTRAL = "neutral"  # a change is shown but never fails a diff

# First matching rule wins. GPU baselines describe other hardware, so a change there is not a
# regression of the mapping (and measured ones vary from run to run): neutral.
_RULES: list[tuple[str, str]] = [
    (r"^complete$", HIGHER),
    (r"^gpu\.", NEUTRAL),
    (r"^ratios\..*_gpu_over_s2$", HIGHER),
    (r"^quality\..*(accuracy|acc)$", HIGHER),
    (r"^quality\..*(perplexity|loss|error)", LOWER),
    (r"sparsity", HIGHER),
    (r"step_period_s$|dense_macs|_capacity$|^deployment\.layers", NEUTRAL),
    (r"^machine\.(chips_in_machine|timed)$", NEUTRAL),
    (r"^s2\.|^deployment\.|^machine\.", LOWER),
]


# parts of a total: (pattern, the total's name from the match); ``s2sim diff --share`` judges a
# part's change against its total, so that a component worth 0.1 % of the energy cannot fail a
# diff by moving 40 % of itself
_PARTS: list[tuple[str, str]] = [
    (r"^s2\.energy_by_component_j\.[^.]+$", "s2.energy_total_j"),
    (r"^s2\.energy_by_component_per_step_j\.[^.]+$", "s2.energy_per_step_j"),
    (r"^s2\.events_per_step_by_layer_mean\.\d+$", "s2.events_per_step_mean"),
    (r"^s2\.by_(layer|slice)\.[^.]+\.energy_per_step_j$", "s2.energy_per_step_j"),
    (r"^s2\.by_(layer|slice)\.[^.]+\.events_per_step$", "s2.events_per_step_mean"),
    (r"^s2\.by_(layer|slice)\.[^.]+\.packets_sent_per_step$", "s2.packets_per_step_mean"),
]


def total_of(metric: str) -> str | None:
    """The metric that ``metric`` is a part of (its total), or None."""
    for pattern, total in _PARTS:
        if re.search(pattern, metric):
            return total
    return None


def direction(metric: str) -> str:
    for pattern, d in _RULES:
        if re.search(pattern, metric):
            return d
    return NEUTRAL


def _flatten(prefix: str, obj, out: dict[str, float]) -> None:
    if isinstance(obj, bool):
        out[prefix] = float(obj)
    elif isinstance(obj, int | float):
        out[prefix] = float(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(obj, list) and prefix.endswith("_by_layer"):
        for i, v in enumerate(obj):
            _flatten(f"{prefix}.{i}", v, out)


def report_metrics(report: Report) -> dict[str, float]:
    """Every scalar metric of a report, by dotted name (per-PE/per-step rows are left out)."""
    out: dict[str, float] = {"complete": float(report.complete)}
    if report.deployment is not None:
        d = report.deployment.model_dump()
        d.pop("layers", None)
        _flatten("deployment", d, out)
    if report.s2 is not None:
        _flatten("s2", report.s2.model_dump(), out)
    for g in report.gpu:
        for f in ("latency_per_token_s", "energy_per_token_j", "average_power_w"):
            out[f"gpu.{g.gpu_key}.{f}"] = float(getattr(g, f))
    for r in report.ratios:
        out[f"ratios.{r.gpu_key}.energy_gpu_over_s2"] = r.energy_gpu_over_s2
        out[f"ratios.{r.gpu_key}.latency_gpu_over_s2"] = r.latency_gpu_over_s2
    if report.quality is not None:
        for k, v in report.quality.metrics.items():
            out[f"quality.{k}"] = float(v)
    if report.machine is not None:  # its totals (the chip and link rows, like per_pe, are not)
        _flatten("machine", report.machine.model_dump(exclude={"chips", "links"}), out)
    return out
