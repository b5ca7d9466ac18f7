"""`s2sim bench lm`: the EGRU language model on the simulated chip vs GPU baselines.

Flow: load the model (small | paper | checkpoint) -> choose the token stream (the test split of
the data set when one is given, else tokens the model generates itself) -> GPU baselines
(modelled; measured ones folded in from `python -m s2sim.baselines.measure`) -> compile ->
run the tokens on the chosen engine -> perplexity over the test set (when data is given; from
the run's own reference pass when the run covers the scored tokens, else a functional pass of
the numpy reference) -> report (JSON, CSV, PNG) + the S2-vs-GPU table.

Ctrl-C at any stage writes a complete report marked incomplete with the stages that finished.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from models.egru.names import PAPER
from s2sim.bench.driver import (
    Bench,
    add_chip_arguments,
    add_output_arguments,
    compile_argv,
    compile_at_tick,
    given_mapping,
    mapping_model_file,
    performance_level,
    read_mapping,
    record_compile,
    run_lengthening_auto_tick,
)
from s2sim.commands import limits
from s2sim.commands.options import (
    add_check_des_argument,
    add_tick_columns_argument,
    deployment_kw,
)

DEFAULT_TOKENS = 140  # two 70-token sequences
ALL_TOKENS = "all"
TICK = "auto"  # the --tick-s default


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None,
                   help="small (shipped, trained on PTB; default) | paper | paper:seed=N "
                        "(paper shape) | PATH to a checkpoint (with --mapping: default the "
                        "model the mapping was compiled for)")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="data set folder (default: $S2SIM_DATA); without it the model "
                        "generates its own token stream")
    p.add_argument("--corpus", default="auto", choices=["auto", "ptb", "wikitext-2"],
                   help="corpus in DIR (auto: the one whose vocabulary matches the model)")
    p.add_argument("--tokens", type=_tokens, default=DEFAULT_TOKENS,
                   help=f"tokens to simulate on the chip (default {DEFAULT_TOKENS}), or 'all': "
                        "the whole test split of --data (the analytic engine counts a long run "
                        "window by window, with bounded memory)")
    add_tick_columns_argument(p)
    p.add_argument("--ppl-tokens", type=limits.count, default=None,
                   help="score perplexity on the first N test tokens only (default: all)")
    add_chip_arguments(p, engine="analytic", tick=TICK,
                       tick_why=" (lengthened by 25 %% and rerun while the run shows tick "
                                "overruns)")
    p.add_argument("--mapping", metavar="FILE", default=None,
                   help="run this compiled mapping (the mapping.json of an earlier bench "
                        "folder, or `s2sim compile --out`) instead of compiling; with that "
                        "folder's --tokens, --data, --engine and --seed (defaults: the same "
                        "defaults) it reproduces the folder's report byte for byte; the compile "
                        "options (--pl, --tick-s, --pes, --placer, --decoder, ...) are the "
                        "mapping's and are refused")
    add_check_des_argument(p)
    p.add_argument("--gpu-measured", action="append", default=[], metavar="FILE",
                   help="gpu_measured.json from `python -m s2sim.baselines.measure` (repeatable)")
    p.add_argument("--measure-gpu", action="store_true",
                   help="also measure the model on this machine's CUDA GPU (needs CUDA)")
    p.add_argument("--seed", type=limits.seed, default=0,
                   help="seed of generated tokens / models")
    p.add_argument("--width-scale", type=limits.count, default=None, metavar="K",
                   help="the paper shape with every layer K x wider (same 95 %% pruning)")
    p.add_argument("--layers", type=limits.count, default=None, metavar="L",
                   help="the paper shape with L EGRU layers")
    p.add_argument("--machine", default=None, metavar="NAME",
                   help="run on a machine of chips: board48 | board:N | boards:N (default: one "
                        "chip; s2sim chip --machine NAME describes one)")
    p.add_argument("--chips", type=limits.count, default=None, metavar="N",
                   help="with --machine: spread the network over exactly N chips (default: the "
                        "fewest that hold it)")
    add_output_arguments(p, out="runs/bench-lm-<model>")


def _tokens(text: str):
    """--tokens: a count, or ``all`` (the whole test split)."""
    return ALL_TOKENS if text == ALL_TOKENS else limits.count(text)


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


def _pick_corpus(model, data_dir: str | None, corpus: str):
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


def run(args: argparse.Namespace) -> int:
    from s2sim.baselines.gpus import parse_gpu_list
    from s2sim.errors import S2SimError
    from s2sim.report.io import load_gpu_results

    if args.tokens == ALL_TOKENS:
        if not (args.data or os.environ.get("S2SIM_DATA")):
            raise S2SimError("--tokens all: the whole test split needs a data set (--data DIR "
                             "or $S2SIM_DATA)")
    elif args.tokens < 2:
        raise S2SimError(f"--tokens {args.tokens}: need at least 2")
    else:
        limits.check_run_size(args.tokens, args.engine, what="tokens",  # before any work
                              tick_columns=args.tick_columns)
    gpu_specs = parse_gpu_list(args.gpus)
    measured = [g for f in args.gpu_measured for g in load_gpu_results(f)]
    given = _read_mapping(args)
    _scale_model(args)
    out = args.out if args.out is not None else Path("runs") / f"bench-lm-{Path(args.model).stem}"
    from s2sim.bench.machine import run_machine_bench, uses_machine

    bench = Bench(out=out, quiet=args.quiet)
    bench.parts["model_arg"] = args.model
    if uses_machine(args):
        if given is not None:
            raise S2SimError(f"--mapping {args.mapping}: a one-chip mapping; with --machine the "
                             "network is compiled across chips (drop --mapping)")
        if args.tick_columns is not None:
            raise S2SimError("--tick-columns: the one-chip analytic engine's ledger; a "
                             "--machine run keeps no per-tick columns (drop it)")
        try:
            model, _ = _load(bench, args)
            tokens, _ = _token_stream(bench, args, model)
            _gpu_baselines(bench, args, model, gpu_specs, measured)
            run_machine_bench(args, bench, model, tokens, compile_argv(args, TICK))
        except KeyboardInterrupt:
            bench.interrupted(_workload(bench, args))
            raise
        bench.finish(_workload(bench, args), plots=not args.no_plots)
        return 0
    try:
        model, generated = _load(bench, args, given)
        tokens, corpus = _token_stream(bench, args, model)
        _gpu_baselines(bench, args, model, gpu_specs, measured)
        n_notes = len(bench.notes)
        scorer = _same_pass_scorer(args, model, corpus, generated, tokens)
        net = _compile(bench, args, model, tokens, corpus, given, scorer)
        _run_on_chip(bench, args, net, tokens, scorer)
        if not args.mapping:
            bench.parts["compile_notes"] = bench.notes[n_notes:]
        record_compile(bench)
        _check_des(bench, args, net, tokens)
        _mla_note(bench)
        _score_perplexity(bench, args, model, corpus, generated, net, scorer)
    except KeyboardInterrupt:
        bench.interrupted(_workload(bench, args))
        raise
    bench.finish(_workload(bench, args), plots=not args.no_plots)
    return 0


def _scale_model(args) -> None:
    """--width-scale / --layers: the model becomes the scaled paper shape's name."""
    if args.width_scale is None and args.layers is None:
        return
    from models.egru.names import resolve_model

    args.model = resolve_model(args.model, seed=args.seed).scaled(
        args.width_scale, args.layers).network_ref


def _workload(bench: Bench, args):
    from s2sim.report.schema import Workload

    p = bench.parts
    return Workload(
        kind="lm", model_name=p.get("name", args.model), model_source=p.get("source", args.model),
        data_source=p.get("data_source", "-"), data_note=p.get("data_note", ""),
        n_steps=args.tokens, step_name="token", steps_per_sequence=70, engine=args.engine,
        performance_level=performance_level(bench, args.pl), seed=args.seed,
        command=["s2sim", "bench", "lm", *_argv_of(args, p.get("compile_argv"))],
    )


def _load(bench: Bench, args, given=None):
    """The model (with --mapping: the file the mapping names), and whether its weights are
    generated (not trained)."""
    from s2sim.baselines.lm_models import load_lm

    bench.say(f"loading model {args.model}")
    ref, name, source, model = load_lm(args.model, seed=args.seed, decoder=args.decoder,
                                       file=mapping_model_file(args, given))
    bench.parts.update(name=name, source=source, ref=ref)
    generated = bool(model.meta.get("generated")) or ref.kind == PAPER
    if generated:
        bench.notes.append("the weights are generated and activity-calibrated "
                           "(models.egru.paper), not trained: perplexity is not meaningful")
    return model, generated


def _token_stream(bench: Bench, args, model):
    """The tokens to run: the test split of the data set when one is given, else the model's own."""
    from s2sim.errors import S2SimError

    bench.enter("choosing the token stream")
    data_dir = args.data or os.environ.get("S2SIM_DATA") or None
    if data_dir:
        # args.data, not data_dir: load_corpus says where the folder came from ($S2SIM_DATA)
        corpus = _pick_corpus(model, args.data, args.corpus)
        test = corpus.test
        if args.tokens == ALL_TOKENS:
            args.tokens = len(test)
            limits.check_run_size(args.tokens, args.engine, what="tokens",
                                  tick_columns=args.tick_columns)
        if args.tokens > len(test):
            raise S2SimError(f"--tokens {args.tokens}: test split has only {len(test)}")
        bench.parts["data_source"] = (f"{corpus.name} test split, first {args.tokens} tokens "
                                      f"({corpus.source_dir})")
        return test[: args.tokens], corpus
    bench.say(f"no data set given: generating {args.tokens} tokens with the model itself")
    tokens = self_generated_tokens(model, args.tokens, args.seed, _progress(args))
    bench.parts["data_source"] = (f"self-generated: {args.tokens} tokens sampled from the "
                                  f"model (seed {args.seed})")
    bench.parts["data_note"] = "no data set given (--data DIR or $S2SIM_DATA): no perplexity"
    return tokens, None


def _gpu_baselines(bench: Bench, args, model, gpu_specs, measured) -> None:
    from s2sim.baselines.modelled import model_gpus
    from s2sim.baselines.workload import shape_of

    bench.enter("GPU baselines")
    name = bench.parts["name"]
    gpus = [*model_gpus(shape_of(model, name), gpu_specs), *measured]
    bench.parts["gpus"] = gpus
    if args.measure_gpu:
        from s2sim.baselines.measure import measure_lm

        bench.say("measuring on the local CUDA GPU (>= 1 s window)")
        bench.parts["gpus"] = [*gpus, measure_lm(model, name, device="cuda", seed=args.seed)]


def _compile(bench: Bench, args, model, tokens, corpus=None, given=None, scorer=None):
    import numpy as np

    from s2sim.compiler.ir import Network
    from s2sim.compiler.precision import network_for_precision

    bench.enter("compiling")
    net = Network.from_lm(model, name=bench.parts["name"], ref=bench.parts["ref"].network_ref)
    if args.precision == "int8":
        from models.egru.quant_lm import CALIBRATION_TOKENS

        calib = None if corpus is None else corpus.split("train")[:CALIBRATION_TOKENS]
        bench.notes.append("int8: weights int8 per output column, state and events Q1.14, "
                           "sigmoid table (models.egru.quant); input scale calibrated on "
                           + ("the first 100,000 training tokens" if calib is not None
                              else "the whole embedding table (no data set given)"))
    else:
        calib = None
    net = network_for_precision(net, args.precision, calib, decoder=args.decoder)
    if given is not None:
        mapping = given_mapping(bench, args, net, given)
    else:
        bench.say("compiling the EGRU stack onto the chip")
        mapping = compile_at_tick(bench, net, args.tick_s, np.asarray(tokens), args.tick_margin,
                                  observe=scorer,
                                  **_compile_kw(args))
        bench.parts["compile_argv"] = compile_argv(args, TICK)
    bench.parts["mapping"] = mapping
    bench.say(f"mapped onto {len(mapping.pes_used())} PEs, PL{mapping.pl}, tick "
              f"{mapping.tick_period_ps / 1e6:g} us")
    return net


DEFAULT_MODEL = "small"


def _read_mapping(args):
    """--mapping FILE (``s2sim.bench.driver.read_mapping``), with --decoder, --precision and --mla
    set to the mapping's; None without it."""
    mapping = read_mapping(args, "lm", TICK, DEFAULT_MODEL)
    if mapping is not None:
        args.decoder = "chip" if mapping.decoder_on_chip else "host"
        args.precision = str(mapping.options.get("precision", "fp32"))
        args.mla = str(mapping.options.get("mla", "auto"))
    return mapping


def _run_on_chip(bench: Bench, args, net, tokens, scorer=None) -> None:
    import numpy as np

    bench.enter(f"running {args.tokens} tokens on the {args.engine} engine", say=True)
    from s2sim.engine import run_mapping

    def run_tokens(mapping):
        return run_mapping(mapping, np.asarray(tokens), engine=args.engine, network=net,
                           progress=_progress(args), observe=scorer,
                           tick_columns=args.tick_columns)

    tick = None if args.mapping else args.tick_s  # a given mapping's tick is its own
    _, result = run_lengthening_auto_tick(bench, net, bench.parts["mapping"], tick,
                                          run_tokens, args.engine, **_compile_kw(args))
    bench.parts["result"] = result
    if result.latency_ps is None:
        bench.notes.append(f"the {args.engine} engine has no time or energy: "
                           "use --engine analytic or des for S2 figures")


def _mla_note(bench: Bench) -> None:
    """With --precision int8: which layer-0 slices use the MLA and its share of the PEs' active
    cycles and of the energy (s2sim.compiler.mla)."""
    mapping, result = bench.parts["mapping"], bench.parts.get("result")
    if mapping.options.get("precision") != "int8":
        return
    from firmware_py.kinds import cost_model_for
    from firmware_py.kinds.egru_slice import mla_macs, mla_tick_cycles

    l0 = [s for s in mapping.slices if s.kind == "egru" and s.layer == 0]
    on = [s for s in l0 if mla_macs(s)]
    mode = mapping.options.get("mla", "auto")
    if not on:
        why = ("" if mode == "off" else " (a dense W slice does not fit a PE or the MLA's "
               "accumulators, or its product would not save cycles)")
        bench.notes.append(f"MLA (--mla {mode}): no layer-0 slice uses it{why}")
        return
    cm = cost_model_for(mapping, mapping.load_spec())
    steps = result.n_steps if result is not None else 0
    mla_c = sum(mla_tick_cycles(s, cm) for s in on) * steps
    share = ""
    if result is not None and result.pe_counts is not None and result.energy is not None:
        act = float(result.pe_counts["active_cycles"].sum())
        e = result.energy.as_dict()
        share = (f"; {100 * mla_c / act:.1f} % of the PEs' active cycles (the CPU waits for it), "
                 f"{100 * e['components_j'].get('mla', 0.0) / e['total_j']:.2f} % of the energy")
    bench.notes.append(f"MLA (--mla {mode}): {len(on)} of {len(l0)} layer-0 slices run their dense "
                       f"input product on it, {sum(mla_macs(s) for s in on):,} MACs per token"
                       + share)


def _check_des(bench: Bench, args, net, tokens) -> None:
    """--check-des N: the first N tokens again on the DES, compared (s2sim.engine.crosscheck)."""
    if not args.check_des:
        return
    import numpy as np

    from s2sim.engine.crosscheck import check_on_des, describe

    bench.enter(f"cross-checking the first {args.check_des} tokens on the DES", say=True)
    check = check_on_des(bench.parts["mapping"], np.asarray(tokens), args.check_des, network=net)
    bench.parts["check_des"] = check
    bench.notes.append(describe(check))


def _scored_tokens(args, corpus):
    """The test tokens perplexity is scored on: the whole split, or its first --ppl-tokens."""
    return corpus.test if args.ppl_tokens is None else corpus.test[: args.ppl_tokens]


def _same_pass_scorer(args, model, corpus, generated: bool, tokens):
    """A ``NextTokenScorer`` of the scored test tokens, to be fed by the chip run's own reference
    pass (``run_mapping(observe=)``), when that run covers them (e.g. ``--tokens all``) and the
    float reference is the oracle; else None (perplexity then comes from a functional pass)."""
    if corpus is None or (generated and args.ppl_tokens is None) or args.precision != "fp32":
        return None
    test = _scored_tokens(args, corpus)
    return model.scorer(test) if len(test) <= len(tokens) else None


def _score_perplexity(bench: Bench, args, model, corpus, generated: bool, net=None,
                      scorer=None) -> None:
    """Perplexity over the test set: from the chip run's own reference pass (``scorer``, fed
    by it), else from a functional pass (numpy reference), when the model is trained."""
    from s2sim.report.schema import Quality

    if corpus is None:
        return
    if generated and args.ppl_tokens is None:
        bench.notes.append("perplexity not scored: the weights are generated, not "
                           "trained (pass --ppl-tokens N to score them anyway)")
        return
    test = _scored_tokens(args, corpus)
    if scorer is not None:
        bench.enter("scoring perplexity from the run's reference pass")
        ev = scorer.result()
        how = (f"numpy reference: the outputs the {args.engine} run was priced from, in the same "
               "pass")
    elif getattr(net, "quant", None) is not None:  # int8: the integer reference
        from models.egru.quant_lm import QLM

        bench.enter("scoring perplexity on the test set (functional path)")
        bench.say(f"perplexity over {len(test)} test tokens (functional path, integer "
                  "reference)")
        ev = QLM(model=net.model, qstack=net.quant).evaluate(test)
        how = "functional path (integer reference models.egru.quant)"
    else:
        bench.enter("scoring perplexity on the test set (functional path)")
        bench.say(f"perplexity over {len(test)} test tokens (functional path, numpy reference)")
        ev = model.evaluate(test, progress=_progress(args))
        how = "functional path (numpy reference)"
    bench.parts["quality"] = Quality(
        metrics={"test_perplexity": ev.perplexity, "test_nll_nats": ev.nll_nats},
        source=f"{corpus.name} test split, {how}, batch 1",
        tokens_scored=ev.tokens,
    )


def _compile_kw(args) -> dict:
    return dict(pl=args.pl, placer=args.placer, partitioner=args.partitioner, seed=args.seed,
                **deployment_kw(args))


def _argv_of(args: argparse.Namespace, compile_argv: list[str] | None = None) -> list[str]:
    """The options as given (for the report's record), in a fixed order; the compile options
    are ``compile_argv`` (with --mapping: those of the bench that compiled it)."""
    out = ["--model", str(args.model), "--tokens", str(args.tokens), "--engine", args.engine]
    if args.data:
        out += ["--data", str(args.data)]
    if args.gpus != "all":
        out += ["--gpus", args.gpus]
    if args.check_des is not None:
        out += ["--check-des", str(args.check_des)]
    if args.tick_columns is not None:
        out += ["--tick-columns", str(args.tick_columns)]
    if args.seed:
        out += ["--seed", str(args.seed)]
    return out + (compile_argv(args, TICK) if compile_argv is None else list(compile_argv))
