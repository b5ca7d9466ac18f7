"""`s2sim diff OLD NEW`: table of changed metrics; exit 1 when one got worse beyond tolerance."""

from __future__ import annotations

import argparse

from s2sim.commands import limits
from s2sim.report.diff import (
    check_comparable,
    diff_reports,
    format_changes,
    missing_metrics,
    regressions,
)
from s2sim.report.io import load_report


def add_parser(sub) -> None:
    p = sub.add_parser(
        "diff",
        help="compare two reports; exit 1 if a metric got worse beyond tolerance",
        description=(
            "Compare two benchmark reports metric by metric. Prints every metric that changed; "
            "exits 1 when a metric got worse by more than --rtol (lower is better for latency, "
            "energy, power, traffic, SRAM, PEs, perplexity; higher for sparsity, accuracy and "
            "GPU/S2 ratios; GPU baselines are shown but never fail) or when a metric is missing "
            "from one report, 0 otherwise; reports of different workloads are refused (exit 2)."
        ),
    )
    p.add_argument("old", help="baseline report.json (or its folder)")
    p.add_argument("new", help="new report.json (or its folder)")
    p.add_argument("--rtol", type=limits.tolerance, default=0.02,
                   help="relative tolerance before a change counts as worse (default 0.02)")
    p.add_argument("--metric", action="append", default=None, metavar="PATTERN",
                   help="only these metrics (glob, e.g. 's2.energy*'); repeatable")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    old, new = load_report(args.old), load_report(args.new)
    check_comparable(old, new, (args.old, args.new))
    changes = diff_reports(old, new, rtol=args.rtol, metrics=args.metric)
    print(format_changes(changes))
    differ = [
        f"{k} {getattr(old.workload, k)} vs {getattr(new.workload, k)}"
        for k in ("kind", "model_name", "n_steps", "engine", "performance_level", "data_source")
        if getattr(old.workload, k) != getattr(new.workload, k)
    ]
    if differ:
        print("note: the workloads differ (" + "; ".join(differ) + ")")
    worse, missing = regressions(changes), missing_metrics(changes)
    if worse:
        names = ", ".join(c.metric for c in worse)
        print(f"{len(worse)} metric(s) worse beyond rtol {args.rtol:g}: {names}")
    if missing:
        names = ", ".join(f"{c.metric} ({'only in new' if c.verdict == 'added' else 'only in old'})"
                          for c in missing)
        print(f"{len(missing)} metric(s) missing from one report: {names}")
    return 1 if worse or missing else 0
