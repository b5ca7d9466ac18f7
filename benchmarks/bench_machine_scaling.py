"""Energy and latency per token against the paper shape's width on a SpiNNaker2 board.

    python benchmarks/bench_machine_scaling.py [--tokens 20] [--widths 1,2,4] [--out DIR]

For every width scale K the paper shape (every layer K x wider, 95 % pruned) is compiled onto the
fewest chips of a 48-chip board (``s2sim.compiler.machine_map``) and run on the machine DES
(``s2sim.engine.machine_des``, 0 event mismatches required); the GPU baselines are the modelled
rows of the same K x model (``s2sim.baselines.modelled``). A width that does not compile is
recorded with its one-line reason. Writes ``scaling.json`` and ``scaling.png`` (energy and
latency per token against K, chips used written at each S2 point) to ``--out``
(default runs/machine-scaling).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def measure(k: int, tokens: int, seed: int) -> dict:
    from models.egru.names import resolve_model
    from s2sim.baselines.gpus import parse_gpu_list
    from s2sim.baselines.lm_models import load_lm
    from s2sim.baselines.modelled import model_gpus
    from s2sim.baselines.workload import shape_of
    from s2sim.bench.lm import self_generated_tokens
    from s2sim.compiler.ir import Network
    from s2sim.compiler.machine_map import compile_machine
    from s2sim.engine.machine_des import run_machine_des
    from s2sim.errors import S2SimError

    name = resolve_model("paper", seed=seed).scaled(k, None).network_ref
    ref, label, _, model = load_lm(name, seed=seed)
    gpus = {f"{g.gpu_name}, {g.label}": {"energy_per_token_j": g.energy_per_token_j,
                                         "latency_per_token_s": g.latency_per_token_s}
            for g in model_gpus(shape_of(model, label), parse_gpu_list("h100,orin"))}
    row = {"width_scale": k, "model": name, "gpus": gpus}
    net = Network.from_lm(model, name=label, ref=ref.network_ref)
    try:
        mm = compile_machine(net, "board48")
    except S2SimError as e:
        row["error"] = str(e)
        return row
    toks = self_generated_tokens(model, tokens, seed)
    res = run_machine_des(mm, np.asarray(toks))
    row.update(chips=len(mm.parts), pes=len(set(mm.placement.values())),
               compile_s=round(mm.compile_s, 2), tick_s=mm.tick_s,
               energy_per_token_j=res.energy_per_token_j(),
               latency_per_token_s=res.mean_latency_s(),
               link_packets=res.link_packets, link_dropped=res.link_dropped,
               event_mismatches=res.event_mismatches)
    return row


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ok = [r for r in rows if "error" not in r]
    for ax, key, unit, scale in ((axes[0], "energy_per_token_j", "mJ", 1e3),
                                 (axes[1], "latency_per_token_s", "ms", 1e3)):
        ks = [r["width_scale"] for r in ok]
        ax.plot(ks, [r[key] * scale for r in ok], "o-", color="k", label="SpiNNaker2 board (DES)")
        for r in ok:
            ax.annotate(f"{r['chips']} chip{'s' if r['chips'] > 1 else ''}",
                        (r["width_scale"], r[key] * scale), textcoords="offset points",
                        xytext=(6, 6), fontsize=8)
        for g in rows[0]["gpus"]:
            pts = [(r["width_scale"], r["gpus"][g][key] * scale) for r in rows if g in r["gpus"]]
            ax.plot(*zip(*pts, strict=True), "s--", label=g, alpha=0.7)
        for r in rows:
            if "error" in r:
                ax.axvline(r["width_scale"], color="r", lw=0.8, ls=":")
                ax.annotate("does not compile", (r["width_scale"], ax.get_ylim()[1]),
                            fontsize=7, color="r", ha="right", va="top", rotation=90)
        ax.set_xlabel("width scale K (every layer K x wider, 95 % pruned)")
        ax.set_ylabel(f"{key.split('_per')[0]} per token ({unit})")
        ax.set_yscale("log")
        ax.set_xticks([r["width_scale"] for r in rows])
    axes[0].legend(fontsize=7)
    fig.suptitle("paper-shape EGRU LM vs width: SpiNNaker2 board48 (fewest chips) and GPUs")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/bench_machine_scaling.py")
    ap.add_argument("--tokens", type=int, default=20)
    ap.add_argument("--widths", default="1,2,4")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/machine-scaling")
    a = ap.parse_args(argv)
    rows = [measure(int(k), a.tokens, a.seed) for k in a.widths.split(",")]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scaling.json").write_text(json.dumps(rows, indent=1, sort_keys=True))
    plot(rows, out / "scaling.png")
    for r in rows:
        print(json.dumps({k: v for k, v in r.items() if k != "gpus"}, sort_keys=True))
    print(f"wrote {out / 'scaling.json'} and {out / 'scaling.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
