"""`s2sim bench lm|gesture`: end-to-end benchmarks against GPU baselines.

Each driver is a module ``s2sim.bench.<name>`` exposing ``add_arguments(parser)`` and
``run(args) -> int``; it is imported when the parser is built, so drivers keep their top-level
imports light and import the heavy parts inside ``run``. The skeleton they share is
``s2sim.bench.driver``.
"""

from __future__ import annotations

import argparse
import importlib

DRIVERS = {
    "lm": "the EGRU language model: S2 latency/energy per token and sequence vs GPUs",
    "gesture": "the DVS gesture EGRU: S2 latency/energy per frame vs GPUs",
}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark a workload on the simulated chip against GPU baselines",
        description="Benchmark a workload on the simulated SpiNNaker2 against GPU baselines.",
    )
    bsub = p.add_subparsers(dest="bench", metavar="WORKLOAD")
    for name, help_text in DRIVERS.items():
        module = importlib.import_module(f"s2sim.bench.{name}")
        bp = bsub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(bp)
        bp.set_defaults(func=module.run)
    p.set_defaults(func=lambda args: _no_workload(p))


def _no_workload(p: argparse.ArgumentParser) -> int:
    p.print_help()
    return 2
