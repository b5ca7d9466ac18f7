"""`s2sim bench lm`: the EGRU language model on the simulated chip vs GPU baselines.

Flow: load the model (small | paper | checkpoint) -> choose the token stream (the test split of
the data set when one is given, else tokens the model generates itself) -> GPU baselines
(modelled; measured ones folded in from `python -m s2sim.baselines.measure`) -> compile ->
run the tokens on the chosen engine -> perplexity over the test set from the functional path
(numpy reference, when data is given) -> report (JSON, CSV, PNG) + the S2-vs-GPU table.

Ctrl-C at any stage writes a complete report marked incomplete with the stages that finished.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

DEFAULT_TOKENS = 140  # two 70-token sequences
AUTO_TICK_RETRIES = 4  # --tick-s auto: reruns with a longer tick while the run overruns it
AUTO_TICK_GROWTH = 1.25


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="small",
                   help="small (shipped, trained on PTB; default) | paper (paper shape) | "
                        "PATH to a checkpoint")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="data set folder (default: $S2SIM_DATA); without it the model "
                        "generates its own token stream")
    p.add_argument("--corpus", default="auto", choices=["auto", "ptb", "wikitext-2"],
                   help="corpus in DIR (auto: the one whose vocabulary matches the model)")
    p.add_argument("--tokens", type=int, default=DEFAULT_TOKENS,
                   help=f"tokens to simulate on the chip (default {DEFAULT_TOKENS})")
    p.add_argument("--ppl-tokens", type=int, default=None,
                   help="score perplexity on the first N test tokens only (default: all)")
    p.add_argument("--engine", default="analytic", choices=["functional", "analytic", "des"],
                   help="simulation engine (default analytic; des = discrete-event, slower)")
    p.add_argument("--pl", type=int, default=None,
                   help="performance level of the PEs (default: the compiler's, the fastest)")
    p.add_argument("--tick-s", default="auto",
                   help="time step (tick) period in seconds, 'spec' for the spec's timing "
                        "(1 ms), or 'auto' (default): the shortest whole microsecond that holds "
                        "the busiest PE's estimated cycles per token plus the compiler's headroom")
    p.add_argument("--gpus", default="all",
                   help="GPUs to model: comma list of a100,h100,h200,rtx4090,orin | all | none")
    p.add_argument("--gpu-measured", action="append", default=[], metavar="FILE",
                   help="gpu_measured.json from `python -m s2sim.baselines.measure` (repeatable)")
    p.add_argument("--measure-gpu", action="store_true",
                   help="also measure the model on this machine's CUDA GPU (needs CUDA)")
    p.add_argument("--placer", default="locality",
                   help="placement strategy passed to the compiler (locality | linear | random)")
    p.add_argument("--partitioner", default="by_units", help="partitioner passed to the compiler")
    p.add_argument("--seed", type=int, default=0, help="seed of generated tokens / models")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output folder (default runs/bench-lm-<model>)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _progress(args) -> bool:
    return not args.quiet and sys.stderr.isatty()


def self_generated_tokens(model, n: int, seed: int, progress: bool = False):
    """``n`` tokens sampled from the model's own next-token distribution (batch 1, seeded).

    Starts from token 0 (``<eos>`` in both corpora's vocabularies built by models.egru.data).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    state = model.stack.zero_state()
    tokens = np.zeros(n, np.int64)
    it = range(1, n)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="generating tokens", unit="tok", mininterval=1, leave=False)
    for t in it:
        y, state = model.stack.step(model.embedding[tokens[t - 1]], state)
        # dense decoder: one BLAS matvec beats gathering the active columns of the tied weights
        lg = (model.embedding @ y + model.decoder_bias).astype(np.float64)
        p = np.exp(lg - lg.max())
        cdf = np.cumsum(p)
        # inverse-CDF draw: one uniform per token (deterministic in the seed)
        tokens[t] = min(int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right")),
                        len(cdf) - 1)
    return tokens


def _pick_corpus(model, data_dir: str, corpus: str):
    from models.egru.data import CORPORA, load_corpus
    from s2sim.errors import DataError

    if corpus == "auto":
        matches = [c for c, (_, _, v) in CORPORA.items() if v == model.vocab_size]
        if not matches:
            raise DataError(f"model vocabulary {model.vocab_size} matches no corpus "
                            f"({', '.join(f'{c}: {v}' for c, (_, _, v) in CORPORA.items())})")
        corpus = matches[0]
    c = load_corpus(corpus, data_dir)
    if c.vocab_size != model.vocab_size:
        raise DataError(f"corpus {corpus} has {c.vocab_size} words, model {model.vocab_size}")
    if model.vocab is not None and model.vocab != c.vocab:
        raise DataError(f"corpus {corpus} in {c.source_dir}: vocabulary differs from the model's")
    return c


def _network(model, name: str, args):
    from s2sim.compiler.ir import Network

    if args.model == "paper":
        ref = f"paper:seed={args.seed}"
    else:
        from s2sim.baselines.lm_models import checkpoint_path

        ref = f"checkpoint:{checkpoint_path(args.model).resolve()}"
    return Network.from_lm(model, name=name, ref=ref)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from s2sim.baselines.gpus import parse_gpu_list
    from s2sim.baselines.lm_models import load_lm
    from s2sim.baselines.modelled import model_gpus
    from s2sim.baselines.workload import shape_of
    from s2sim.errors import S2SimError
    from s2sim.report.build import build_report
    from s2sim.report.io import load_gpu_results, write_report
    from s2sim.report.schema import Quality, Workload
    from s2sim.report.summary import summarize

    if args.tokens < 2:
        raise S2SimError(f"--tokens {args.tokens}: need at least 2")
    gpu_specs = parse_gpu_list(args.gpus)
    measured_files = [load_gpu_results(f) for f in args.gpu_measured]
    progress = _progress(args)
    out = Path(args.out) if args.out else Path("runs") / f"bench-lm-{Path(args.model).stem}"
    data_dir = args.data or os.environ.get("S2SIM_DATA") or None

    state: dict = {"stage": "loading the model", "notes": []}
    t_start = time.perf_counter()

    def say(msg: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - t_start:6.1f}s] {msg}", file=sys.stderr, flush=True)

    def workload() -> Workload:
        return Workload(
            kind="lm", model_name=state.get("name", args.model),
            model_source=state.get("source", args.model),
            data_source=state.get("data_source", "-"), data_note=state.get("data_note", ""),
            n_steps=args.tokens, step_name="token", steps_per_sequence=70,
            engine=args.engine,
            performance_level=int(state["mapping"].pl) if "mapping" in state else
            (args.pl if args.pl is not None else -1),
            seed=args.seed, command=["s2sim", "bench", "lm", *_argv_of(args)],
        )

    def report(complete: bool, reason: str = ""):
        return build_report(
            workload(), result=state.get("result"), mapping=state.get("mapping"),
            gpus=state.get("gpus", []), quality=state.get("quality"), notes=state["notes"],
            complete=complete, incomplete_reason=reason,
        )

    try:
        say(f"loading model {args.model}")
        name, source, model = load_lm(args.model, seed=args.seed)
        state.update(name=name, source=source)
        if model.meta.get("generated") or args.model == "paper":
            state["notes"].append("the weights are generated and activity-calibrated "
                                  "(models.egru.paper), not trained: perplexity is not meaningful")

        state["stage"] = "choosing the token stream"
        corpus = None
        if data_dir:
            corpus = _pick_corpus(model, data_dir, args.corpus)
            test = corpus.test
            if args.tokens > len(test):
                raise S2SimError(f"--tokens {args.tokens}: test split has only {len(test)}")
            tokens = test[: args.tokens]
            state["data_source"] = f"{corpus.name} test split, first {args.tokens} tokens " \
                                   f"({corpus.source_dir})"
        else:
            say(f"no data set given: generating {args.tokens} tokens with the model itself")
            tokens = self_generated_tokens(model, args.tokens, args.seed, progress)
            state["data_source"] = f"self-generated: {args.tokens} tokens sampled from the " \
                                   f"model (seed {args.seed})"
            state["data_note"] = "no data set given (--data DIR or $S2SIM_DATA): no perplexity"

        state["stage"] = "GPU baselines"
        shape = shape_of(model, name)
        gpus = model_gpus(shape, gpu_specs)
        for lst in measured_files:
            gpus.extend(lst)
        state["gpus"] = gpus
        if args.measure_gpu:
            from s2sim.baselines.measure import measure_lm

            say("measuring on the local CUDA GPU (>= 1 s window)")
            state["gpus"] = gpus = [*gpus, measure_lm(model, name, device="cuda",
                                                      seed=args.seed)]

        state["stage"] = "compiling"
        say("compiling the EGRU stack onto the chip")
        from s2sim.compiler.compile import compile_network

        net = _network(model, name, args)
        mapping = _compile(compile_network, net, args, state["notes"])
        state["mapping"] = mapping
        say(f"mapped onto {len(mapping.pes_used())} PEs, PL{mapping.pl}, tick "
            f"{mapping.tick_period_ps / 1e6:g} us")

        state["stage"] = f"running {args.tokens} tokens on the {args.engine} engine"
        say(state["stage"])
        from s2sim.engine import run_mapping

        result = run_mapping(mapping, np.asarray(tokens), engine=args.engine, network=net,
                             progress=progress)
        # --tick-s auto starts from the compiler's cycle estimate; where the run shows the tick
        # is still too short (a PE busy when its next tick fires), lengthen it by 25 % and rerun
        retries = 0
        while (str(args.tick_s) == "auto" and result.tick_overruns > 0
               and result.latency_ps is not None and retries < AUTO_TICK_RETRIES):
            retries += 1
            old_us = mapping.tick_period_ps / 1e6
            new_s = math.ceil(old_us * AUTO_TICK_GROWTH) / 1e6
            state["notes"].append(f"--tick-s auto: {old_us:g} us gave {result.tick_overruns} "
                                  f"tick overruns on the {args.engine} engine; rerun at "
                                  f"{new_s * 1e6:g} us")
            say(state["notes"][-1])
            mapping = compile_network(net, tick_period_s=new_s, **_compile_kw(args))
            state["mapping"] = mapping
            result = run_mapping(mapping, np.asarray(tokens), engine=args.engine, network=net,
                                 progress=progress)
        state["result"] = result
        if result.latency_ps is None:
            state["notes"].append(f"the {args.engine} engine has no time or energy: "
                                  "use --engine analytic or des for S2 figures")

        generated = bool(model.meta.get("generated")) or args.model == "paper"
        if corpus is not None and generated and args.ppl_tokens is None:
            state["notes"].append("perplexity not scored: the weights are generated, not "
                                  "trained (pass --ppl-tokens N to score them anyway)")
        elif corpus is not None:
            state["stage"] = "scoring perplexity on the test set (functional path)"
            test = corpus.test if args.ppl_tokens is None else corpus.test[: args.ppl_tokens]
            say(f"perplexity over {len(test)} test tokens (functional path, numpy reference)")
            ev = model.evaluate(test, progress=progress)
            state["quality"] = Quality(
                metrics={"test_perplexity": ev.perplexity, "test_nll_nats": ev.nll_nats},
                source=f"{corpus.name} test split, functional path (numpy reference), batch 1",
                tokens_scored=ev.tokens,
            )
    except KeyboardInterrupt:
        rep = report(False, f"interrupted by the user while {state['stage']}")
        write_report(rep, out, plots=False)
        print(f"s2sim: interrupted while {state['stage']}; partial report (marked incomplete) "
              f"in {out / 'report.json'}", file=sys.stderr)
        raise

    rep = report(True)
    try:
        say(f"writing the report to {out}")
        write_report(rep, out, plots=not args.no_plots)
    except KeyboardInterrupt:
        print(f"s2sim: interrupted while writing; {out / 'report.json'} is the previous one or "
              "absent", file=sys.stderr)
        raise
    print(summarize(rep, source=str(out / "report.json")))
    return 0


def _tick_arg(text: str) -> float | str:
    from s2sim.errors import S2SimError

    if text in ("auto", "spec"):
        return text
    try:
        v = float(text)
    except ValueError:
        raise S2SimError(f"--tick-s {text!r}: a number of seconds, 'auto' or 'spec'") from None
    if not v > 0:
        raise S2SimError(f"--tick-s {text}: must be > 0")
    return v


def _compile_kw(args) -> dict:
    return dict(pl=args.pl, placer=args.placer, partitioner=args.partitioner, seed=args.seed)


def _compile(compile_network, net, args, notes: list[str]):
    """Compile at the tick ``--tick-s`` asks for; ``auto`` is the compiler's: the shortest whole
    microsecond that holds the busiest PE's estimated work (+ headroom) and the send schedule."""
    tick = _tick_arg(str(args.tick_s))
    kw = _compile_kw(args)
    if tick == "spec":
        return compile_network(net, **kw)
    mapping = compile_network(net, tick_period_s=tick, **kw)
    if tick == "auto":
        notes.append(f"tick period {mapping.tick_period_ps / 1e6:g} us chosen by --tick-s auto: "
                     f"the mapping needs ~{mapping.required_cycles_per_tick} cycles per token at "
                     f"{mapping.frequency_hz / 1e6:g} MHz (estimated work + headroom)")
    return mapping


def _argv_of(args: argparse.Namespace) -> list[str]:
    """The options as given (for the report's record), in a fixed order."""
    out = ["--model", str(args.model), "--tokens", str(args.tokens), "--engine", args.engine]
    if args.pl is not None:
        out += ["--pl", str(args.pl)]
    if args.data:
        out += ["--data", str(args.data)]
    if args.gpus != "all":
        out += ["--gpus", args.gpus]
    if str(args.tick_s) != "auto":
        out += ["--tick-s", str(args.tick_s)]
    if args.placer != "locality":
        out += ["--placer", args.placer]
    if args.partitioner != "by_units":
        out += ["--partitioner", args.partitioner]
    if args.seed:
        out += ["--seed", str(args.seed)]
    return out
