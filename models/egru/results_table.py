"""Markdown table of trained runs (``RUN/results.json``) next to the published numbers.

    python -m models.egru.results_table runs/egru_ptb runs/lstm_ptb ...
    python -m models.egru.results_table --quant models/egru/checkpoints/egru_ptb_p95_int8.json

``--quant``: the fp32 / PTQ / QAT rows of a quantisation run (``models.egru.qat --results``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# Published PTB numbers (ICLR 2023, via shared docs/egru.md): model, test ppl, activity sparsity.
PUBLISHED = [
    ("EGRU 2000 units (ICLR 2023)", "57.0", "≈80–85 %", "dense", "800 epochs, GPU"),
    ("EGRU 1350 units (ICLR 2023)", "57.2", "≈80–85 %", "dense", "800 epochs, GPU"),
    ("GRU 1350 dense (ICLR 2023)", "66.3", "0 %", "dense", "GPU"),
    ("AWD-LSTM (ICLR 2023 table)", "57.3", "0 %", "dense", "GPU"),
]


def _row(run: Path) -> str:
    r = json.loads((run / "results.json").read_text())
    c = r["config"]
    kind = c["model"].upper()
    arch = f"{kind} {c['emb']}→{'/'.join(map(str, c['layers']))} (tied, V={r['vocab_size']})"
    act = "/".join(f"{1 - a:.1%}" for a in r["activity"]) if c["model"] == "egru" else "0 %"
    ws = r["weight_sparsity"]["recurrent"]
    budget = f"{r['wall_minutes']:.0f} min wall ({r['cpu_minutes']:.0f} CPU), " \
             f"{r['epoch_fraction']:.2f} ep"
    if r.get("init_results"):
        ir = r["init_results"]
        budget += f" + {ir.get('wall_minutes', 0):.0f} min dense"
    return (f"| {arch} | {r['corpus']} | {r['test_ppl']:.1f} | {r['valid_ppl']:.1f} | {act} | "
            f"{ws:.1%} | {r['params']['recurrent']:,} + {r['params']['embedding_and_decoder']:,}"
            f" | {budget} |")


QUANT_ROWS = (
    ("fp32", "float32 (the checkpoint)", "numpy reference"),
    ("ptq", "int8 PTQ (input scale on 100,000 train tokens)", "integer reference"),
    ("qat", "int8 QAT (straight-through estimator)", "integer reference"),
)


def quant_table(path: Path, label: str) -> str:
    """fp32 / PTQ / QAT rows of a ``models.egru.qat --results`` file (test ppl at batch 1)."""
    r = json.loads(Path(path).read_text())
    out = ["| model | numerics | test ppl (b=1) | vs fp32 | activity sparsity per layer | "
           "evaluated by |", "|---|---|---|---|---|---|"]
    fp = r["fp32"]["test_ppl"]
    for key, what, how in QUANT_ROWS:
        x = r[key]
        sp = "/".join(f"{s:.1%}" for s in x["activation_sparsity"])
        if key == "qat":
            what += f", {r['qat_steps']} steps ({r['qat_cpu_minutes']:.1f} CPU min)"
        out.append(f"| {label} | {what} | {x['test_ppl']:.1f} | "
                   f"{100 * (x['test_ppl'] / fp - 1):+.1f} % | {sp} | {how}, "
                   f"{x['tokens']:,} tokens |")
    return "\n".join(out)


def main(argv=None) -> int:
    argv = list(argv if argv is not None else sys.argv[1:])
    if argv[:1] == ["--quant"]:
        for p in argv[1:]:
            print(quant_table(Path(p), Path(p).stem))
        return 0
    runs = [Path(p) for p in argv]
    print("| model | data | test ppl (b=1) | valid ppl | activity sparsity per layer | "
          "weight sparsity (recurrent) | params (recurrent + emb/dec) | budget |")
    print("|---|---|---|---|---|---|---|---|")
    for run in runs:
        print(_row(run))
    for name, ppl, act, ws, budget in PUBLISHED:
        print(f"| {name} | ptb | {ppl} | – | {act} | {ws} | – | {budget} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
