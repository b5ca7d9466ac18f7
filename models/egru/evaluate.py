"""Evaluate a shipped or saved model on a corpus's test split at batch size 1.

    python -m models.egru.evaluate --model small            # or egru_ptb, a .npz path
    python -m models.egru.evaluate --model models/egru/checkpoints/baselines/lstm_ptb.npz

EGRU checkpoints are evaluated by the numpy reference (the simulator's oracle) and reported with
the NeuroBench-named metrics; LSTM baseline files (``s2sim-lstm-lm``) by torch at batch 1.
Deterministic: the same checkpoint and data give the same numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

from models.egru.errors import CheckpointError, S2SimError

__all__ = ["main", "load_lstm_npz"]


def load_lstm_npz(path):
    """The LSTM baseline saved by ``train.py`` as plain arrays + JSON meta."""
    import torch

    from models.egru.torch_egru import LSTMLM

    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: not a readable .npz ({exc})") from None
    meta = json.loads(arrays.pop("__meta__").tobytes())
    if meta.get("format") != "s2sim-lstm-lm" or meta.get("version") != 1:
        raise CheckpointError(f"{path}: not an s2sim-lstm-lm version 1 file")
    a = meta["arch"]
    model = LSTMLM(a["vocab_size"], a["emb"], a["layers"])
    model.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
    return model.eval(), meta


def _peek_meta(path: Path) -> dict:
    """The JSON meta of a .npz (to tell an LSTM baseline from an EGRU checkpoint), checked."""
    try:
        with np.load(path, allow_pickle=False) as z:
            raw = z["__meta__"].tobytes() if "__meta__" in z.files else b"{}"
        meta = json.loads(raw)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: not a readable .npz checkpoint (truncated or corrupted: "
                              f"{exc})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: its __meta__ is not a JSON object")
    return meta


def _tokens(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a whole number") from None
    if v < 2:
        raise argparse.ArgumentTypeError(f"{v}: must be >= 2 (a next-token score needs two)")
    return v


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.egru.evaluate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="small", help="shipped name or .npz path")
    ap.add_argument("--corpus", default=None, help="default: the one the model was trained on")
    ap.add_argument("--data", default=None, help="data dir (else $S2SIM_DATA, ../shared/data)")
    ap.add_argument("--tokens", type=_tokens, default=None, help="first N test tokens only")
    args = ap.parse_args(argv)
    try:
        from models.egru.data import load_corpus

        path = Path(args.model)
        meta = {}
        if path.suffix == ".npz" and path.is_file():
            meta = _peek_meta(path)
        if meta.get("format") == "s2sim-lstm-lm":
            import torch

            from models.egru.train import evaluate_batched

            torch.set_num_threads(1)
            model, meta = load_lstm_npz(path)
            corpus = load_corpus(args.corpus or meta["provenance"]["data"], args.data)
            test = corpus.test[: args.tokens] if args.tokens else corpus.test
            nll = evaluate_batched(model, test, batch=1, bptt=1000)
            out = {"model": str(path), "test_tokens": len(test) - 1, "test_ppl": float(np.exp(nll)),
                   "evaluator": "torch, batch 1"}
        else:
            from models.egru.checkpoint import load_named
            from models.egru.metrics import all_metrics

            lm = load_named(args.model)
            corpus = load_corpus(args.corpus or lm.meta["provenance"]["data"], args.data)
            if lm.vocab is not None and lm.vocab != corpus.vocab:
                raise S2SimError(f"--model {args.model}: vocabulary differs from {corpus.name}'s")
            test = corpus.test[: args.tokens] if args.tokens else corpus.test
            ev = lm.evaluate(test)
            out = {"model": args.model, "test_tokens": ev.tokens, "test_ppl": ev.perplexity,
                   "activity": ev.activity, "evaluator": "numpy reference, batch 1",
                   "metrics": all_metrics(lm, test)}
    except S2SimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
