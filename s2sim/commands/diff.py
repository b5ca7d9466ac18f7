"""`s2sim diff OLD NEW`: table of changed metrics; exit 1 when one got worse beyond tolerance."""

from __future__ import annotations

import argparse

from s2sim.report.diff import diff_reports, format_changes, regressions
from s2sim.report.io import load_report


def add_parser(sub) -> None:
    p = sub.add_parser(
        "diff",
        help="compare two reports; exit 1 if a metric got worse beyond tolerance",
        description=(
            "Compare two benchmark reports metric by metric. Prints every metric that changed; "
            "exits 1 when a metric got worse by more than --rtol (lower is better for latency, "
            "energy, power, traffic, SRAM, PEs, perplexity; higher for sparsity, accuracy and "
            "GPU/S2 ratios; GPU baselines are shown but never fail), 0 otherwise."
        ),
    )
    p.add_argument("old", help="baseline report.json (or its folder)")
    p.add_argument("new", help="new report.json (or its folder)")
    p.add_argument("--rtol", type=float, default=0.02,
                   help="relative tolerance before a change counts as worse (default 0.02)")
    p.add_argument("--metric", action="append", default=None, metavar="PATTERN",
                   help="only these metrics (glob, e.g. 's2.energy*'); repeatable")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    old, new = load_report(args.old), load_report(args.new)
    changes = diff_reports(old, new, rtol=args.rtol, metrics=args.metric)
    print(format_changes(changes))
    differ = [
        f"{k} {getattr(old.workload, k)} vs {getattr(new.workload, k)}"
        for k in ("kind", "model_name", "n_steps", "engine", "performance_level", "data_source")
        if getattr(old.workload, k) != getattr(new.workload, k)
    ]
    if differ:
        print("note: the workloads differ (" + "; ".join(differ) + ")")
    worse = regressions(changes)
    if worse:
        names = ", ".join(c.metric for c in worse)
        print(f"{len(worse)} metric(s) worse beyond rtol {args.rtol:g}: {names}")
        return 1
    return 0
