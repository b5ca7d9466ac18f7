"""`s2sim run`: run a model or a compiled mapping on an engine and write a run report (JSON).

    s2sim run paper --tokens 20 --engine des --out run.json
    s2sim run mapping.json --input tokens.npy --engine analytic --out run.json
    s2sim run model.npz --tokens 100 --engine functional --out run.json

``--tokens N`` runs N seeded random token ids (uniform over the vocabulary); ``--input FILE``
takes a .npy of token ids (T,) or input vectors (T, n_in). The report holds the mapping summary,
the RunResult summary (outputs are not stored: latency, energy, traffic, counts, mismatches vs
the numpy oracle) and is byte-identical for the same inputs and seed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from s2sim.commands.compile import add_compile_arguments, compile_from_args, load_network
from s2sim.errors import S2SimError

RUN_FORMAT = "s2sim-run"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "run", help="run a model or mapping on the functional | analytic | des engine",
        description="Run a compiled mapping (or compile MODEL first) on an engine, compare with "
                    "the numpy oracle, and write a JSON run report.")
    p.add_argument("target", help="mapping .json, or a model: small | paper | paper:seed=N | "
                                  "gesture | checkpoint PATH")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--tokens", type=int, help="run N seeded random token ids")
    src.add_argument("--input", metavar="FILE", help=".npy of token ids (T,) or vectors (T, n)")
    p.add_argument("--engine", default="des", choices=["functional", "analytic", "des"])
    p.add_argument("--no-compare", action="store_true", help="skip the oracle comparison")
    p.add_argument("--out", required=True, help="run report JSON to write")
    add_compile_arguments(p)
    p.set_defaults(func=run)


def _inputs(args, net):
    if args.tokens is not None:
        if args.tokens < 1:
            raise S2SimError(f"--tokens {args.tokens}: must be >= 1")
        rng = np.random.default_rng(args.seed)
        if net.input.embedding is not None:
            return rng.integers(0, net.input.embedding.shape[0], args.tokens)
        return rng.standard_normal((args.tokens, net.input.n_out)).astype(np.float32)
    try:
        return np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise S2SimError(f"--input {args.input}: cannot read a .npy array ({exc})") from None


def run(args) -> int:
    from s2sim.atomic import write_text_atomic
    from s2sim.compiler.mapping import Mapping
    from s2sim.engine import run_mapping

    if args.target.endswith(".json"):
        mapping = Mapping.load(args.target)
        net = mapping.network
    else:
        net = load_network(args.target)
        mapping = compile_from_args(net, args)
    xs = _inputs(args, net)
    res = run_mapping(mapping, xs, engine=args.engine, compare=not args.no_compare)
    doc = {"format": RUN_FORMAT, "version": 1, "mapping": mapping.summary(),
           "result": res.summary(),
           "energy": None if res.energy is None else res.energy.as_dict()}
    write_text_atomic(Path(args.out), json.dumps(doc, indent=1, sort_keys=True) + "\n")
    mm = res.mismatches
    lat = res.mean_latency_ps
    print(f"{args.engine}: {res.n_steps} steps on {len(mapping.pes_used())} PEs; "
          + (f"latency {lat / 1e6:.1f} us/step, " if lat is not None else "")
          + (f"energy {res.energy_j * 1e3:.4f} mJ ({res.energy_per_step_j * 1e6:.2f} uJ/step), "
             if res.energy_j is not None else "")
          + f"sparsity {[round(s, 3) for s in res.activation_sparsity]}, "
          + f"mismatches vs oracle: {mm.event_mismatches} events, {mm.value_mismatches} values "
          + f"(late packets {mm.late_packets}, dropped {res.dropped_packets}, "
          + f"tick overruns {res.tick_overruns}) -> {args.out}")
    return 0
