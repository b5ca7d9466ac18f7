"""`s2sim diff OLD NEW`: table of changed metrics; exit 1 when one got worse beyond tolerance."""

from __future__ import annotations

import argparse

from s2sim.commands import limits
from s2sim.errors import S2SimError
from s2sim.report.diff import (
    check_comparable,
    diff_reports,
    format_changes,
    hardware_of,
    list_metrics,
    missing_metrics,
    regressions,
    same_kind_of_hardware,
)
from s2sim.report.io import load_report


def add_parser(sub) -> None:
    p = sub.add_parser(
        "diff",
        help="compare two reports; exit 1 if a metric got worse beyond tolerance",
        description=(
            "Compare two benchmark reports metric by metric. Prints every metric that changed; "
            "exits 1 when a metric got worse beyond the tolerances (lower is better for latency, "
            "energy, power, traffic, SRAM, PEs, perplexity; higher for sparsity, accuracy and "
            "GPU/S2 ratios; GPU baselines are shown but never fail) or when a metric is missing "
            "from one report, 0 otherwise; reports of different workloads are refused (exit 2). "
            "A change counts when it exceeds --atol (in the metric's unit) and --rtol (relative "
            "to the old value); with --share, a part of a total (an energy component, a layer's "
            "or slice's energy, events or packets) counts when its change exceeds that share of "
            "the old total instead. `s2sim diff --list-metrics [REPORT]` lists the names."
        ),
    )
    p.add_argument("old", nargs="?", help="baseline report.json (or its folder)")
    p.add_argument("new", nargs="?", help="new report.json (or its folder)")
    p.add_argument("--rtol", type=limits.tolerance, default=0.02,
                   help="relative tolerance before a change counts as worse (default 0.02)")
    p.add_argument("--atol", type=limits.float_in(0.0, what="an absolute tolerance"),
                   default=0.0, help="absolute tolerance, in each metric's own unit: changes "
                                     "no larger never count (default 0)")
    p.add_argument("--share", type=limits.tolerance, default=None, metavar="S",
                   help="judge the parts of a total (energy components, per-layer/slice "
                        "figures) by their change relative to the total (e.g. 0.001 = 0.1 %% "
                        "of the total energy) instead of by --rtol")
    p.add_argument("--metric", action="append", default=None, metavar="PATTERN",
                   help="only these metrics (glob, e.g. 's2.energy*'); repeatable")
    p.add_argument("--list-metrics", action="store_true",
                   help="list the metric names (of OLD when given, else the naming rules) and "
                        "exit")
    p.add_argument("--plot", metavar="PNG", default=None,
                   help="also draw OLD and NEW side by side (energy by component, latency, "
                        "traffic, per-layer energy) into this PNG")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.list_metrics:
        print(list_metrics(load_report(args.old) if args.old else None))
        return 0
    if not args.old or not args.new:
        raise S2SimError("diff: give two reports, OLD and NEW (or --list-metrics)")
    old, new = load_report(args.old), load_report(args.new)
    check_comparable(old, new, (args.old, args.new))
    shared = not same_kind_of_hardware(old, new)
    changes = diff_reports(old, new, rtol=args.rtol, metrics=args.metric, atol=args.atol,
                           share=args.share, shared_only=shared)
    print(format_changes(changes))
    if shared:
        print(f"note: {hardware_of(old)} vs {hardware_of(new)}: compared on the metrics both "
              "reports have (a machine's chips and links, a chip's per-layer and per-slice "
              "figures have no counterpart)")
    if args.plot:
        from s2sim.report.plots import plot_diff

        print(f"side-by-side plot -> {plot_diff(old, new, args.plot, (args.old, args.new))}")
    differ = [
        f"{k} {getattr(old.workload, k)} vs {getattr(new.workload, k)}"
        for k in ("kind", "model_name", "n_steps", "engine", "performance_level", "data_source")
        if getattr(old.workload, k) != getattr(new.workload, k)
    ]
    if hardware_of(old) != hardware_of(new):
        differ.append(f"hardware {hardware_of(old)} vs {hardware_of(new)}")
    if differ:
        print("note: the workloads differ (" + "; ".join(differ) + ")")
    worse, missing = regressions(changes), missing_metrics(changes)
    if worse:
        names = ", ".join(c.metric for c in worse)
        tol = f"rtol {args.rtol:g}" + (f", atol {args.atol:g}" if args.atol else "") + (
            f", share {args.share:g}" if args.share is not None else "")
        print(f"{len(worse)} metric(s) worse beyond {tol}: {names}")
    if missing:
        names = ", ".join(f"{c.metric} ({'only in new' if c.verdict == 'added' else 'only in old'})"
                          for c in missing)
        print(f"{len(missing)} metric(s) missing from one report: {names}")
    return 1 if worse or missing else 0
