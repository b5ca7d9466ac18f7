"""`s2sim bench lm --machine NAME [--chips N]`: the LM on a machine of several chips.

    s2sim bench lm --model paper --width-scale 2 --machine board48 --engine des --tokens 20

The network is compiled across chips (``s2sim.compiler.machine_map``: the fewest chips that hold
it, or ``--chips N``) and run on the machine's DES (``s2sim.engine.machine_des``: the chips'
routers, their links, the host at the Ethernet chip), its events checked against the numpy
reference; ``--engine analytic`` compiles and counts the link traffic on the same routes from the
reference's events (no per-chip timing). Prints the mapping (per-chip PEs, SRAM, routing entries,
expected link load), the run (per-chip energy and busy fraction, per-link traffic, utilisation and
drops, energy by component including the links, mismatches) and the GPU baselines of the same
model, and writes ``machine.json`` to the output folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from s2sim.errors import S2SimError

__all__ = ["uses_machine", "run_machine_bench", "MACHINE_FILE"]

MACHINE_FILE = "machine.json"


def uses_machine(args) -> bool:
    """Whether bench lm runs on a machine of chips (``--machine`` other than ``chip`` or
    ``--chips``): the default single-chip path is untouched otherwise."""
    return (getattr(args, "machine", None) not in (None, "chip")
            or getattr(args, "chips", None) is not None)


def run_machine_bench(args, bench, model, tokens) -> dict:
    from s2sim.baselines.gpus import parse_gpu_list
    from s2sim.baselines.modelled import model_gpus
    from s2sim.baselines.workload import shape_of
    from s2sim.compiler.ir import Network
    from s2sim.compiler.machine_map import compile_machine
    from s2sim.output import write_bundle

    if args.decoder != "host":
        raise S2SimError("--machine: only --decoder host runs on a machine of chips")
    if args.engine == "functional":
        raise S2SimError("--machine: use --engine des (or analytic for the link counts)")
    name, ref = bench.parts["name"], bench.parts["ref"]
    net = Network.from_lm(model, name=name, ref=ref.network_ref)
    tick = None if args.tick_s in (None, "auto") else float(args.tick_s)
    bench.say(f"compiling onto machine {args.machine or 'board48'}")
    mm = compile_machine(net, args.machine or "board48", chips=args.chips, pl=args.pl,
                         tick_period_s=tick)
    print(mm.report())
    out = {"model": name, "network_ref": ref.network_ref, "mapping": mm.to_json(),
           "compile_s": mm.compile_s}
    toks = np.asarray(tokens, np.int64)
    print()
    if args.engine == "des":
        from s2sim.engine.machine_des import run_machine_des

        bench.say(f"running {toks.size} tokens on the machine's DES")
        res = run_machine_des(mm, toks)
        print(res.report())
        out["run"] = res.to_json()
        e_tok, lat = res.energy_per_token_j(), res.mean_latency_s()
    else:
        from s2sim.engine.machine_des import analytic_link_traffic, prepared_run

        a = analytic_link_traffic(mm, prepared_run(mm, toks))
        print(f"analytic link traffic over {toks.size} tokens (the reference's events on the "
              f"compiled trees): {a['packets']} packets, {a['bits']} bits, {a['hops']} chip hops "
              "(per-chip energy and latency: --engine des)")
        out["analytic_links"] = a
        e_tok = lat = None
    gpus = model_gpus(shape_of(model, name), parse_gpu_list(args.gpus))
    if gpus:
        print("\nGPU baselines of the same model (modelled, batch 1):")
        for g in gpus:
            print(f"  {g.gpu_name:<14} {g.label:<22} {g.latency_per_token_s * 1e3:>9.3f} ms/token"
                  f"  {g.energy_per_token_j * 1e3:>9.3f} mJ/token")
    out["gpus"] = [g.model_dump() for g in gpus]
    if e_tok is not None:
        print(f"\nS2 machine ({len(mm.parts)} chips): {lat * 1e3:.3f} ms/token, "
              f"{e_tok * 1e3:.3f} mJ/token")
    text = json.dumps(out, indent=1, sort_keys=True, default=float)
    write_bundle(Path(bench.out), lambda d: (d / MACHINE_FILE).write_text(text))
    bench.say(f"wrote {Path(bench.out) / MACHINE_FILE}")
    return out
