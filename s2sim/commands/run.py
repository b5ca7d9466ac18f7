"""`s2sim run`: run a model or a compiled mapping on an engine and write a run report (JSON).

    s2sim run paper --tokens 20 --engine des --out run.json
    s2sim run mapping.json --input tokens.npy --engine analytic --out run.json
    s2sim run model.npz --tokens 100 --engine functional --out run.json

``--tokens N`` runs N seeded random token ids (uniform over the vocabulary); ``--input FILE``
takes a .npy of token ids (T,) or input vectors (T, n_in). The output is a report of the schema
every bench writes (``s2sim.report.schema.Report``: ``s2sim report`` and ``s2sim diff`` read it;
no GPU baselines), whose ``run`` section adds the mapping summary, the tick choice and the
RunResult summary (outputs are not stored: latency, energy, traffic, counts, mismatches vs the
numpy oracle); it is byte-identical for the same inputs and seed.

With a mapping target, the compile options it fixes (``--pl``, ``--tick-s``, ``--max-pes``,
``--placer``, ``--pin``...) are refused with one line; ``--spec``/``--set`` are applied to the
mapping's recorded spec, which the mapping is then validated against
(``s2sim.commands.targets``).
"""

from __future__ import annotations

import json

import numpy as np

from s2sim.commands import limits
from s2sim.commands.compile import add_compile_arguments, compile_from_args, load_network
from s2sim.commands.options import add_check_des_argument, add_tick_columns_argument
from s2sim.commands.targets import apply_to_mapping, compile_options_from
from s2sim.errors import S2SimError
from s2sim.output import output_file

RUN_FORMAT = "s2sim-run"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "run", help="run a model or mapping on the functional | analytic | des engine",
        description="Run a compiled mapping (or compile MODEL first) on an engine, compare with "
                    "the numpy oracle, and write a JSON run report.")
    p.add_argument("target", help="mapping .json, or a model: small | paper | paper:seed=N | "
                                  "gesture | checkpoint PATH")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--tokens", type=limits.count, help="run N seeded random token ids")
    src.add_argument("--input", metavar="FILE", help=".npy of token ids (T,) or vectors (T, n)")
    p.add_argument("--engine", default="des", choices=["functional", "analytic", "des"])
    p.add_argument("--no-compare", action="store_true", help="skip the oracle comparison")
    add_tick_columns_argument(p)
    p.add_argument("--out", required=True, help="run report JSON to write")
    first_compile_option = len(p._actions)
    add_compile_arguments(p)
    compile_options_from(p, first_compile_option)  # refused with a mapping target
    add_check_des_argument(p)
    p.set_defaults(func=run)


def _inputs(args, net):
    if args.tokens is not None:
        if args.tokens < 1:
            raise S2SimError(f"--tokens {args.tokens}: must be >= 1")
        limits.check_run_size(args.tokens, args.engine, what="tokens",
                              values_per_step=net.input.n_out + sum(net.sizes),
                              tick_columns=args.tick_columns)
        rng = np.random.default_rng(args.seed)
        if net.input.embedding is not None:
            return rng.integers(0, net.input.embedding.shape[0], args.tokens)
        return rng.standard_normal((args.tokens, net.input.n_out)).astype(np.float32)
    try:
        return np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise S2SimError(f"--input {args.input}: cannot read a .npy array ({exc})") from None


def _report_text(args, net, mapping, res, run_doc: dict, check) -> str:
    """The run as a report (the bench schema), with the run's own summary in ``run``."""
    from s2sim.report.build import report_of_run
    from s2sim.report.io import report_json

    lm = net.input.embedding is not None
    source = (f"--tokens {args.tokens}: seeded random "
              f"{'token ids' if lm else 'input vectors'} (seed {args.seed})"
              if args.tokens is not None else f"--input {args.input}")
    command = ["s2sim", "run", str(args.target),
               *(["--tokens", str(args.tokens)] if args.tokens is not None
                 else ["--input", str(args.input)]), "--engine", args.engine]
    rep = report_of_run(res, mapping, data_source=source, seed=args.seed, command=command,
                        model_source=str(mapping.network_ref or args.target), check_des=check)
    rep.run = json.loads(json.dumps(run_doc, sort_keys=True))
    return report_json(rep)


def run(args) -> int:
    from s2sim.atomic import write_text_atomic
    from s2sim.compiler.mapping import Mapping
    from s2sim.engine import run_mapping

    out = output_file(args.out)
    tick = None
    if args.target.endswith(".json"):
        mapping = Mapping.load(args.target)
        if mapping.options.get("machine"):  # its PEs are global ids over several chips
            raise S2SimError(f"{args.target}: compiled across the chips of machine "
                             f"{mapping.options['machine']}; run it with s2sim bench lm "
                             "--machine")
        apply_to_mapping(args, mapping)
        if mapping.options.get("precision", "fp32") == "int8":  # rebuild the int8 network
            from s2sim.compiler.ir import resolve_network
            from s2sim.compiler.precision import network_for_precision

            mapping.attach(network_for_precision(resolve_network(mapping.network_ref), "int8"))
        net = mapping.network
        xs = _inputs(args, net)
    else:
        from s2sim.compiler.precision import network_for_precision

        net = network_for_precision(load_network(args.target, args.decoder), args.precision,
                                    decoder=args.decoder)
        xs = _inputs(args, net)
        mapping, choice = compile_from_args(net, args, xs)
        tick = choice.to_dict()
    limits.check_run_size(len(xs), args.engine, spec=mapping.load_spec(),
                          pes_used=len(mapping.pes_used()), tick_period_ps=mapping.tick_period_ps,
                          tick_columns=args.tick_columns)
    res = run_mapping(mapping, xs, engine=args.engine, compare=not args.no_compare,
                      tick_columns=args.tick_columns)
    run_doc = {"format": RUN_FORMAT, "mapping": mapping.summary(), "tick_choice": tick,
               "result": res.summary(),
               "energy": None if res.energy is None else res.energy.as_dict()}
    check = None
    if args.check_des:
        from s2sim.engine.crosscheck import check_on_des, describe

        check = check_on_des(mapping, xs, args.check_des, network=net)
        print(describe(check))
    write_text_atomic(out, _report_text(args, net, mapping, res, run_doc, check))
    mm = res.mismatches
    lat = res.mean_latency_ps
    print(f"{args.engine}: {res.n_steps} steps on {len(mapping.pes_used())} PEs; "
          + (f"latency {lat / 1e6:.1f} us/step, " if lat is not None else "")
          + (f"energy {res.energy_j * 1e3:.4f} mJ ({res.energy_per_step_j * 1e6:.2f} uJ/step), "
             if res.energy_j is not None else "")
          + f"sparsity {[round(float(s), 3) for s in res.activation_sparsity]}, "
          + (f"mismatches vs oracle: not checked ({mm.not_checked}) " if mm.not_checked else
             f"mismatches vs oracle: {mm.event_mismatches} events, {mm.value_mismatches} values ")
          + f"(late packets {mm.late_packets}, dropped {res.dropped_packets}, "
          + f"undelivered {res.undelivered_packets}, missing host outputs "
          + f"{res.missing_host_outputs}, tick overruns {res.tick_overruns}) -> {args.out}")
    if res.failed_checks():  # the latency above is then over the steps that arrived only
        print("!! WARNING: figures not trustworthy: " + "; ".join(res.failed_checks()))
    return 0
