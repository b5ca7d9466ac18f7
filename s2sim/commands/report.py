"""`s2sim report FILE`: print a readable summary of a report (file or folder)."""

from __future__ import annotations

import argparse

from s2sim.report.io import load_report
from s2sim.report.summary import summarize


def add_parser(sub) -> None:
    p = sub.add_parser(
        "report",
        help="print a readable summary of a benchmark report",
        description="Print a readable summary of a report.json (or a folder holding one).",
    )
    p.add_argument("file", help="report.json, or the output folder of a bench run")
    p.add_argument("--json", action="store_true", help="print the validated JSON instead")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = load_report(args.file)
    if args.json:
        from s2sim.report.io import report_json

        print(report_json(report), end="")
    else:
        print(summarize(report, source=str(args.file)))
    return 0
