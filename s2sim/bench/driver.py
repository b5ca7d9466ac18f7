"""The skeleton both bench drivers (``s2sim bench lm|gesture``) share.

A driver runs named stages that fill a ``Bench`` (the report's parts so far); ``Bench.finish``
writes the report, and Ctrl-C at any stage writes a complete report marked incomplete with the
stages that finished (``Bench.interrupted``). The compile-at-``--tick-s`` step and the run-based
lengthening of an ``auto`` tick live here too, so that both drivers do them the same way.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s2sim.commands.options import AUTO, ESTIMATE

AUTO_TICK_RETRIES = 4  # --tick-s auto: reruns with a longer tick while the run overruns it
AUTO_TICK_GROWTH = 1.25


@dataclass
class Bench:
    """What a driver has so far: the stage it is in, notes and the report's parts (``parts``:
    result, mapping, gpus, quality, and whatever the driver's workload needs)."""

    out: Path
    quiet: bool = False
    stage: str = "loading the model"
    notes: list[str] = field(default_factory=list)
    parts: dict[str, Any] = field(default_factory=dict)
    t_start: float = field(default_factory=time.perf_counter)
    files: dict[str, str] = field(default_factory=dict)  # extra files of the folder: name -> text
    marker: str | None = None  # the file an earlier output holds (None: report.json)

    def __post_init__(self) -> None:
        from s2sim.output import output_folder
        from s2sim.report.io import REPORT_FILE

        # a bad --out is said at once, not after the run (the folder is written as a bundle)
        self.out = output_folder(self.out, marker=self.marker or REPORT_FILE)

    def say(self, msg: str) -> None:
        """A progress line on stderr, with the seconds since the start."""
        if not self.quiet:
            print(f"[{time.perf_counter() - self.t_start:6.1f}s] {msg}", file=sys.stderr,
                  flush=True)

    def enter(self, stage: str, say: bool = False) -> None:
        self.stage = stage
        if say:
            self.say(stage)

    def report(self, workload, complete: bool, reason: str = ""):
        from s2sim.report.build import build_report

        p = self.parts
        return build_report(workload, result=p.get("result"), mapping=p.get("mapping"),
                            gpus=p.get("gpus", []), quality=p.get("quality"), notes=self.notes,
                            complete=complete, incomplete_reason=reason,
                            check_des=p.get("check_des"), machine=p.get("machine"))

    def interrupted(self, workload) -> None:
        """Ctrl-C during a stage: write the partial report (marked incomplete) and say where."""
        from s2sim.report.io import write_report

        write_report(self.report(workload, False, f"interrupted by the user while {self.stage}"),
                     self.out, plots=False, extra_files=self.files)
        print(f"s2sim: interrupted while {self.stage}; partial report (marked incomplete) "
              f"in {self.out / 'report.json'}", file=sys.stderr)

    def _timeline(self) -> dict:
        """pe_timeline.png: the busiest PEs tick by tick, from the run's ledger."""
        res, m = self.parts.get("result"), self.parts.get("mapping")
        if res is None or m is None or res.counts is None:  # no ledger (a machine run)
            return {}
        from s2sim.report.plots import pe_timeline

        return {"pe_timeline.png": lambda path: pe_timeline(res, m, path)}

    def finish(self, workload, plots: bool):
        """Write the complete report and print its summary table; returns the report."""
        from s2sim.report.io import write_report
        from s2sim.report.summary import summarize

        rep = self.report(workload, True)
        if "mapping" in self.parts:  # the mapping the run used: `s2sim run mapping.json` reruns it
            self.files["mapping.json"] = self.parts["mapping"].to_json(folder=self.out)
        try:
            self.say(f"writing the report to {self.out}")
            write_report(rep, self.out, plots=plots, extra_files=self.files,
                         extra_plots=self._timeline())
        except KeyboardInterrupt:
            print(f"s2sim: interrupted while writing; {self.out} is left as it was (the "
                  "previous run's folder, or none)", file=sys.stderr)
            raise
        print(summarize(rep, source=str(self.out / "report.json")))
        return rep


def add_chip_arguments(p: argparse.ArgumentParser, *, engine: str, tick: str,
                       tick_why: str) -> None:
    """The options both drivers take to compile and run on the chip and to model GPUs:
    --engine, --pl, --tick-s/--tick-margin, the deployment options, --spec/--set,
    --compile-option, --placer, --partitioner and --gpus (``engine``/``tick``: the defaults)."""
    from s2sim.commands import limits
    from s2sim.commands.chip import add_spec_arguments
    from s2sim.commands.options import (
        add_compile_option_argument,
        add_deployment_arguments,
        add_tick_argument,
    )

    p.add_argument("--engine", default=engine, choices=["functional", "analytic", "des"],
                   help=f"simulation engine (default {engine}; des = discrete-event, slower)")
    p.add_argument("--pl", type=limits.level, default=None,
                   help="performance level of the PEs (default: the compiler's, the fastest)")
    add_tick_argument(p, default=tick, why=tick_why)
    add_deployment_arguments(p)
    add_spec_arguments(p)
    add_compile_option_argument(p)
    p.add_argument("--placer", default="locality",
                   help="placement strategy passed to the compiler (locality | linear | random)")
    p.add_argument("--partitioner", default="by_units", help="partitioner passed to the compiler")
    p.add_argument("--gpus", default="all",
                   help="GPUs to model: comma list of a100,h100,h200,rtx4090,orin | all | none")


def add_output_arguments(p: argparse.ArgumentParser, out: str) -> None:
    """--out (``out``: the default folder, for the help), --no-plots, --quiet."""
    p.add_argument("--out", default=None, metavar="DIR",
                   help=f"output folder (default {out})")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="no progress messages or bars")


def performance_level(bench: Bench, pl: int | None) -> int:
    """The PL the report records: the mapping's once compiled, else the one asked for (-1)."""
    if "mapping" in bench.parts:
        return int(bench.parts["mapping"].pl)
    return pl if pl is not None else -1


def compile_at_tick(bench: Bench, net, tick, inputs=None, margin: float | None = None,
                    observe=None, **kw):
    """Compile at the tick ``--tick-s`` asks for (``s2sim.engine.tick.compile_with_tick``:
    ``auto`` sizes it for ``inputs``, its check of a long run observed by ``observe``); how it
    was chosen goes to the report's notes and to ``bench.parts["tick_choice"]``."""
    from s2sim.engine.tick import DEFAULT_TICK_MARGIN, compile_with_tick, describe

    mapping, choice = compile_with_tick(
        net, tick, inputs, margin=DEFAULT_TICK_MARGIN if margin is None else margin,
        observe=observe, **kw)
    bench.parts["tick_choice"] = choice
    if choice.method in (AUTO, ESTIMATE):
        bench.notes.append(describe(choice, mapping))
    return mapping


def run_lengthening_auto_tick(bench: Bench, net, mapping, tick, run: Callable, engine: str,
                              **compile_kw):
    """``(mapping, result)`` of ``run(mapping)``; with ``--tick-s auto``, while the run shows the
    tick is too short (a PE still busy when its next tick fires; the compiler's estimate starts
    it), lengthen the tick by 25 % (whole microseconds), recompile and rerun, at most
    ``AUTO_TICK_RETRIES`` times. Each rerun is a note of the report."""
    from s2sim.compiler.compile import compile_network

    result = run(mapping)
    retries = 0
    while (tick in (AUTO, ESTIMATE) and result.tick_overruns > 0 and result.latency_ps is not None
           and retries < AUTO_TICK_RETRIES):
        retries += 1
        old_us = mapping.tick_period_ps / 1e6
        new_s = math.ceil(old_us * AUTO_TICK_GROWTH) / 1e6
        bench.notes.append(f"--tick-s auto: {old_us:g} us gave {result.tick_overruns} tick "
                           f"overruns on the {engine} engine; rerun at {new_s * 1e6:g} us")
        bench.say(bench.notes[-1])
        mapping = compile_network(net, tick_period_s=new_s, **compile_kw)
        bench.parts["mapping"] = mapping
        result = run(mapping)
    return mapping, result


# -- a bench folder's mapping.json, and rerunning it (``--mapping FILE``) ------------------------
# What a bench records in the mapping.json it writes, so that ``--mapping`` reproduces its report
# byte for byte: the compile options as given (for the report's command), the notes the compile
# stage made and the --model argument (the model a later ``--mapping`` run defaults to). Which
# bench a mapping belongs to is read from the mapping itself (``mapping_bench``), so that one from
# ``s2sim compile --out`` is told apart too. One home for both drivers (lm, gesture).
BENCH_ARGV, BENCH_NOTES, BENCH_MODEL = "bench_compile_argv", "bench_compile_notes", "bench_model"
BENCHES = {"lm": "language model", "gesture": "gesture classifier"}


def compile_flags(args: argparse.Namespace, tick: str) -> list[tuple[str, object, object]]:
    """(flag, value, default) of the options of ``add_chip_arguments`` that choose the mapping
    (``tick``: the driver's --tick-s default)."""
    from s2sim.engine.tick import DEFAULT_TICK_MARGIN

    return [("--pl", args.pl, None), ("--tick-s", str(args.tick_s), tick),
            ("--tick-margin", args.tick_margin, DEFAULT_TICK_MARGIN), ("--pes", args.pes, None),
            ("--objective", args.objective, "pes"), ("--index-bits", args.index_bits, 16),
            ("--spec", args.spec, None), ("--set", args.set, []),
            ("--compile-option", args.compile_option, []), ("--placer", args.placer, "locality"),
            ("--partitioner", args.partitioner, "by_units"), ("--decoder", args.decoder, "host"),
            ("--precision", args.precision, "fp32"), ("--mla", args.mla, "auto")]


def compile_argv(args: argparse.Namespace, tick: str) -> list[str]:
    """The compile options given away from their defaults, as argv (the report's record)."""
    out: list[str] = []
    for flag, value, default in compile_flags(args, tick):
        if value == default:
            continue
        for item in value if isinstance(value, list) else [value]:
            out += [flag, str(item)]
    return out


def mapping_bench(mapping) -> str:
    """The bench a mapping runs under: ``lm`` (the tied decoder of a language model) or
    ``gesture`` (a classifier's readout)."""
    return "lm" if mapping.host_decoder is not None or mapping.decoder_on_chip else "gesture"


def read_mapping(args: argparse.Namespace, bench: str, tick: str, default_model: str):
    """--mapping FILE of ``s2sim bench <bench>``: the mapping (one-line errors: unreadable, not a
    mapping, another bench's, compiled across chips), the compile options refused and --model
    defaulted to the mapping's model; without --mapping, --model defaulted to
    ``default_model`` and None returned."""
    from s2sim.compiler.mapping import Mapping
    from s2sim.errors import S2SimError

    if not args.mapping:
        args.model = args.model or default_model
        return None
    given = [flag for flag, value, default in compile_flags(args, tick) if value != default]
    if given:
        raise S2SimError(f"{given[0]}: does not apply with --mapping {args.mapping} (the mapping "
                         "fixes it); compile with it instead")
    mapping = Mapping.load(args.mapping)
    other = mapping_bench(mapping)
    if other != bench:
        raise S2SimError(f"--mapping {args.mapping}: a {BENCHES[other]}'s mapping (network "
                         f"{mapping.network_name}), not a {BENCHES[bench]}'s; run it with "
                         f"s2sim bench {other} --mapping")
    if mapping.options.get("machine"):
        raise S2SimError(f"--mapping {args.mapping}: compiled across the chips of machine "
                         f"{mapping.options['machine']}; rerun with --machine instead")
    if not args.model:
        args.model = str(mapping.options.get(BENCH_MODEL) or mapping.network_ref or "")
        if not args.model:
            raise S2SimError(f"--mapping {args.mapping}: it names no model (compiled from a "
                             "network built in Python); pass --model")
    return mapping


def mapping_model_file(args: argparse.Namespace, mapping) -> Path | None:
    """The checkpoint a --mapping run reads when --model was the mapping's: the file its
    ``network_ref`` names (found from the mapping's folder, so that a moved folder reruns); the
    --model text the bench recorded stays the report's name for it. None: read --model."""
    from models.egru.names import names_a_file, resolve_model

    if (mapping is None or args.model != mapping.options.get(BENCH_MODEL)
            or not names_a_file(args.model) or not mapping.network_ref):
        return None
    return resolve_model(mapping.network_ref).path


def given_mapping(bench: Bench, args: argparse.Namespace, net, mapping):
    """The --mapping, checked against the model (one line when it is another's), with the
    compile options and notes of the bench that wrote it."""
    import json

    from s2sim.errors import S2SimError

    bench.say(f"running the compiled mapping {args.mapping}")
    if mapping.network_fingerprint != net.fingerprint():
        raise S2SimError(f"--mapping {args.mapping}: compiled for another network "
                         f"({mapping.network_name}), not --model {args.model}")
    mapping = mapping.attach(net).validate()
    opts = mapping.options
    bench.parts["compile_argv"] = json.loads(str(opts.get(BENCH_ARGV) or "[]"))
    bench.notes.extend(json.loads(str(opts.get(BENCH_NOTES) or "[]")))
    return mapping


def record_compile(bench: Bench) -> None:
    """Keep in the mapping what ``--mapping`` needs to reproduce this report (a given mapping
    keeps what its bench recorded)."""
    import json

    m = bench.parts.get("mapping")
    if m is not None and BENCH_ARGV not in m.options:
        m.options[BENCH_ARGV] = json.dumps(bench.parts.get("compile_argv", []))
        m.options[BENCH_NOTES] = json.dumps(bench.parts.get("compile_notes", []))
        m.options[BENCH_MODEL] = str(bench.parts["model_arg"])
