"""`s2sim validate`: published SpiNNaker2 measurements vs the simulator, with % errors."""

from __future__ import annotations

import argparse

from s2sim.commands import limits
from s2sim.commands.chip import add_spec_arguments, json_text, spec_from_args


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "validate", help="simulate the published chip measurements and compare",
        description="Simulate the published SpiNNaker2 measurements (chip power off / asleep / "
                    "busy per PL, MLA int8 matmul throughput and power, synaptic events/s) on "
                    "the simulated chip and print published vs simulated with the % error.")
    add_spec_arguments(p)
    p.add_argument("--ticks", type=limits.int_in(1, 100_000), default=10,
                   help="simulated 1 ms ticks per measurement (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--check", action="store_true",
                   help="exit 1 if any row is outside its documented error bound")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from s2sim.validate import table_text, validate

    spec, label = spec_from_args(args)
    rows = validate(spec, ticks=args.ticks)
    ok = all(r.within_bound is not False for r in rows)
    if args.json:
        print(json_text({"spec_file": label, "ticks": args.ticks,
                         "all_within_bounds": ok, "rows": [r.to_json() for r in rows]}))
    else:
        print(table_text(rows, label), end="")
    return 1 if (args.check and not ok) else 0
