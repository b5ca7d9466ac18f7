"""Quantised EGRU language models: PTQ of a checkpoint, evaluation by the integer reference.

The host side (embedding lookup, tied decoder) stays float32 as in ``models.egru.lm``; the stack
runs in the integers of ``models.egru.quant``: the host quantises the embedding row to int8 with
the calibrated per-tensor scale, the chip's events are Q14, the decoder reads ``y / 2**14``.

A quantised checkpoint is an ordinary ``s2sim-egru-lm`` checkpoint whose float32 weights are
exactly the dequantised int8 values (re-quantising them gives the same integers back) and whose
``meta["quantisation"]`` records the format and the calibrated input scale; ``load_qlm`` builds
the integer stack from it.

    python -m models.egru.quant_lm --model small            # PTQ + perplexity, fp32 vs int8
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass

import numpy as np

from models.egru.errors import ModelError
from models.egru.lm import LMEval, LMModel
from models.egru.quant import ONE, QStack, calibrate_input_scale, quantise_input, quantise_stack
from models.egru.reference import EGRUStack

__all__ = ["QLM", "ptq", "qlm_from_model", "quant_meta", "is_quantised", "QUANT_FORMAT",
           "CALIBRATION_TOKENS", "evaluate_float_batched"]

QUANT_FORMAT = "int8-w/q14-state"
# training tokens the input scale is calibrated on (the first ones of the train split)
CALIBRATION_TOKENS = 100_000
DECODE_CHUNK = 1024


@dataclass
class QLM:
    """An LMModel's host side with a quantised stack."""

    model: LMModel  # float host parts (embedding, decoder); stack = the dequantised layers
    qstack: QStack

    @property
    def x_scale(self) -> float:
        return self.qstack.x_scale

    def inputs(self, tokens) -> np.ndarray:
        """int8 layer-0 inputs (as int64) of ``tokens``: the host's lookup + quantisation."""
        return quantise_input(self.model.embed(tokens), self.x_scale)

    def evaluate(self, tokens) -> LMEval:
        """Next-token perplexity at batch 1 with the integer stack (as ``LMModel.evaluate``)."""
        tokens = np.asarray(tokens, np.int64)
        if tokens.size < 2:
            raise ModelError("evaluation needs at least 2 tokens")
        tr = self.qstack.run(self.inputs(tokens[:-1]))
        return _decode_eval(self.model, tr.ys[-1] / ONE, tokens, tr.ys)


def _decode_eval(model: LMModel, y_top: np.ndarray, tokens: np.ndarray, ys) -> LMEval:
    E_T = model.decoder_rows
    nll = 0.0
    for a in range(0, y_top.shape[0], DECODE_CHUNK):
        y = y_top[a:a + DECODE_CHUNK].astype(np.float32)
        lg = (y @ E_T + model.decoder_bias).astype(np.float64)
        m = lg.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(lg - m).sum(axis=1))
        tgt = tokens[a + 1:a + 1 + y.shape[0]]
        nll += float((lse - lg[np.arange(y.shape[0]), tgt]).sum())
    n = tokens.size - 1
    act = [float(np.count_nonzero(y)) / y.size for y in ys]
    return LMEval(tokens=n, nll_nats=nll / n, perplexity=math.exp(nll / n), activity=act,
                  events=[int(np.count_nonzero(y)) for y in ys])


def evaluate_float_batched(model: LMModel, tokens) -> LMEval:
    """``LMModel.evaluate`` (float32 reference, batch 1) with the decoder in chunks: the same
    perplexity to float64 summation order, faster."""
    tokens = np.asarray(tokens, np.int64)
    tr = model.stack.run(model.embed(tokens[:-1]))
    return _decode_eval(model, tr.ys[-1], tokens, tr.ys)


def ptq(model: LMModel, calib_tokens) -> QLM:
    """Post-training quantisation: the input scale calibrated on ``calib_tokens`` (training
    data), weights per output column, thresholds and biases rounded to their fixed points."""
    x_scale = calibrate_input_scale(model.embed(np.asarray(calib_tokens, np.int64)))
    return qlm_from_model(model, x_scale)


def qlm_from_model(model: LMModel, x_scale: float) -> QLM:
    qs = quantise_stack(model.stack.layers, x_scale)
    deq = LMModel(embedding=model.embedding, stack=EGRUStack([q.dequantised() for q in qs.layers]),
                  decoder_bias=model.decoder_bias, vocab=model.vocab, meta=dict(model.meta))
    return QLM(model=deq, qstack=qs)


def quant_meta(x_scale: float, how: str) -> dict:
    return {"format": QUANT_FORMAT, "x_scale": float(x_scale), "method": how}


def is_quantised(model) -> bool:
    meta = getattr(model, "meta", None) or {}
    return isinstance(meta.get("quantisation"), dict)


def load_qlm(model: LMModel) -> QLM:
    """The QLM of a quantised checkpoint's model (its recorded input scale)."""
    q = (model.meta or {}).get("quantisation")
    if not isinstance(q, dict) or q.get("format") != QUANT_FORMAT:
        raise ModelError(f"model is not quantised (meta.quantisation.format != {QUANT_FORMAT})")
    return qlm_from_model(model, float(q["x_scale"]))


def main(argv=None) -> int:
    from models.egru.checkpoint import load_named
    from models.egru.data import load_corpus

    p = argparse.ArgumentParser(prog="python -m models.egru.quant_lm",
                                description="PTQ of an EGRU LM checkpoint: fp32 vs int8 ppl")
    p.add_argument("--model", default="small")
    p.add_argument("--data", default=None)
    p.add_argument("--tokens", type=int, default=0, help="test tokens (0 = the whole split)")
    a = p.parse_args(argv)
    model = load_named(a.model)
    corpus = load_corpus("ptb", a.data)
    test = corpus.split("test")
    if a.tokens:
        test = test[:a.tokens]
    q = load_qlm(model) if is_quantised(model) else ptq(model, corpus.split("train")[
        :CALIBRATION_TOKENS])
    fp = evaluate_float_batched(model, test)
    iq = q.evaluate(test)
    print(f"x_scale {q.x_scale:.6g}")
    for name, ev in (("fp32", fp), ("int8", iq)):
        sp = "/".join(f"{1 - x:.1%}" for x in ev.activity)
        print(f"{name}: test ppl {ev.perplexity:.2f} over {ev.tokens} tokens, sparsity {sp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
