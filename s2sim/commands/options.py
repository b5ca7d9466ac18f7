"""Command-line options shared by several commands: the one parser of ``--tick-s``, the
deployment options (``--pes``, ``--objective``, ``--index-bits``) and ``--check-des``.

``--tick-s`` takes seconds (finite, > 0), ``auto`` (the shortest whole microsecond at which the
run's inputs — seeded stand-ins for ``compile`` — have no overrun, drop or late traffic, plus
``--tick-margin``: ``s2sim.engine.tick``), ``estimate`` (the compiler's worst-case estimate: the
busiest PE's estimated work plus headroom and the send schedule at the assumed activity) or
``spec`` (the spec's tick period). ``s2sim compile``, ``s2sim run`` and ``s2sim bench lm`` default
to ``auto``; ``s2sim bench gesture`` to ``spec`` (its recorded figures are at the spec's tick).
"""

from __future__ import annotations

import argparse
import math

from s2sim.commands import limits

AUTO = "auto"
ESTIMATE = "estimate"
SPEC = "spec"
# --tick-margin: a fraction 0..10 (0.1 = 10 % longer)
tick_margin = limits.float_in(0.0, 10.0, what="a fraction, e.g. 0.1 for 10 %")


def parse_tick(text: str) -> float | str:
    """argparse type of ``--tick-s``: ``auto``, ``estimate``, ``spec`` or seconds (finite, > 0)."""
    if text in (AUTO, ESTIMATE, SPEC):
        return text
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: seconds, 'auto', 'estimate' or 'spec'"
                                         ) from None
    if not (v > 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"{text}: must be a finite number of seconds > 0")
    return v


def tick_period_s(tick: float | str | None) -> float | str | None:
    """The ``tick_period_s`` for ``compile_network``: None (the spec's) for ``spec``/None."""
    return None if tick in (SPEC, None) else tick


def add_tick_argument(p: argparse.ArgumentParser, default: str = AUTO, why: str = "") -> None:
    from s2sim.engine.tick import DEFAULT_TICK_MARGIN

    p.add_argument("--tick-s", type=parse_tick, default=default,
                   help="tick (time step) period: seconds, 'auto' (the shortest whole "
                        "microsecond at which the run's inputs have no overrun, drop or late "
                        "traffic, plus --tick-margin), 'estimate' (the compiler's worst-case "
                        f"estimate) or 'spec' (the spec's); default {default}{why}")
    p.add_argument("--tick-margin", type=tick_margin, default=DEFAULT_TICK_MARGIN,
                   help="with --tick-s auto: how much longer than the shortest clean tick "
                        f"(fraction; default {DEFAULT_TICK_MARGIN:g})")


def add_deployment_arguments(p: argparse.ArgumentParser) -> None:
    """--pes, --objective, --index-bits (``compile_network``'s pes=, objective=, index_bits=)."""
    p.add_argument("--pes", type=limits.pe_count, default=None,
                   help="spread the network over exactly N PEs (one slice each; up to 150 of "
                        "the 152, as the published deployment)")
    p.add_argument("--objective", choices=["pes", "latency", "energy"], default="pes",
                   help="fewest PEs (default), lowest latency (every usable PE) or lowest "
                        "estimated energy per step (the compiler picks the PE count)")
    p.add_argument("--index-bits", type=int, choices=[16, 32], default=16,
                   help="width of a stored weight's column index (SRAM per synapse: 6 or 8 B)")
    p.add_argument("--precision", choices=["fp32", "int8"], default="fp32",
                   help="numerics of the EGRU slices: fp32 (default) or int8 (int8 weights, "
                        "fixed-point state, models.egru.quant; an LM is quantised by PTQ, or "
                        "an int8 checkpoint used as it is)")
    p.add_argument("--mla", choices=["auto", "on", "off"], default="auto",
                   help="with --precision int8: the first layer's dense input product on the "
                        "MLA where it fits and saves cycles (auto, default), on every layer-0 "
                        "slice (on) or nowhere (off)")
    p.add_argument("--decoder", choices=["host", "chip"], default="host",
                   help="where an LM's tied embedding/decoder runs: the host (default) or the "
                        "chip (its table as CSC row blocks on PEs, the argmax on the readout; "
                        "the paper shape then has its embedding pruned to 95 %%)")


def add_compile_option_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--compile-option", metavar="KEY=VALUE", action="append", default=[],
                   help="one more compile_network keyword (max_pes, activity, cycle_headroom, "
                        "queue_depth, sram_headroom_bytes, ...; values as YAML scalars; "
                        "repeatable)")


def compile_options(items: list[str]) -> dict:
    """``["activity=0.3", ...]`` -> ``{"activity": 0.3}`` (the compiler refuses unknown keys)."""
    import yaml

    from s2sim.errors import S2SimError

    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise S2SimError(f"--compile-option {item!r}: expected KEY=VALUE, e.g. activity=0.3")
        out[key.strip()] = yaml.safe_load(value)
    return out


def deployment_kw(args) -> dict:
    """compile_network keywords of the deployment options (and --spec/--set, --compile-option
    where the command has them)."""
    from s2sim.spec import parse_set_args

    kw = {"pes": args.pes, "objective": args.objective, "index_bits": args.index_bits,
          "decoder": args.decoder}
    if getattr(args, "precision", "fp32") != "fp32":
        kw["precision"] = args.precision
    if getattr(args, "mla", "auto") != "auto":
        kw["mla"] = args.mla
    if getattr(args, "spec", None):
        kw["spec_path"] = args.spec
    if getattr(args, "set", None):
        kw["spec_overrides"] = parse_set_args(args.set)
    return {**kw, **compile_options(getattr(args, "compile_option", []))}


def add_check_des_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--check-des", type=limits.count, default=None, metavar="N",
                   help="cross-check the first N steps on the DES engine: its mismatches vs "
                        "the reference and its energy and latency difference")


def add_tick_columns_argument(p: argparse.ArgumentParser) -> None:
    """--tick-columns N (``run_mapping(tick_columns=)``): the analytic engine's per-tick ledger
    of a long run, binned (default) or every tick."""
    p.add_argument("--tick-columns", type=limits.int_in(0, limits.COUNT_MAX), default=None,
                   metavar="N", help="a run longer than the analytic engine's window (4096 "
                   "steps) keeps its per-tick counts binned to at most N columns (default "
                   "4096: bounded memory); 0 keeps every tick (memory grows with the run)")
