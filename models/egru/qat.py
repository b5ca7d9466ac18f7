"""Quantisation-aware fine-tuning of an EGRU LM (torch, straight-through estimator).

The forward pass fake-quantises what the int8 firmware quantises (``models.egru.quant``): int8
weights per output column, the int8 layer-0 input at the calibrated scale, the sigmoid and tanh
as the nearest entry of the 1/64-step table, the state and graded events on the Q14 grid, the
thresholds in Q14. Each rounding passes its gradient straight through (``x + (q(x) - x).detach()``).
Pruned weights stay zero (the masks of the starting checkpoint are re-applied after every step).
The result is written as a quantised checkpoint (``models.egru.quant_lm``): float32 weights that
are exactly the dequantised int8 values, the input scale in ``meta["quantisation"]``.

    nice python -m models.egru.qat --model small --steps 1369 \
        --out models/egru/checkpoints/egru_ptb_p95_int8.npz \
        --results models/egru/checkpoints/egru_ptb_p95_int8.json

(the shipped int8 checkpoint; ``--steps`` makes the run reproducible, ``--minutes`` alone
stops on CPU time and is not).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from models.egru.quant import FRAC_STATE, INT8_MAX, LUT_RANGE
from models.egru.quant_lm import CALIBRATION_TOKENS, evaluate_float_batched, ptq, quant_meta
from models.egru.torch_egru import EGRULM, SpikeFunction, egru_lm_to_numpy, sequence_nll

__all__ = ["qat_forward", "torch_from_lm", "main"]

_Q = float(1 << FRAC_STATE)
_LUT_STEPS = 64.0  # table entries per unit of pre-activation


def _ste(x, q):
    return x + (q - x).detach()


def fq_weight(W):
    s = (W.detach().abs().amax(dim=0).clamp_min(1e-12) / INT8_MAX)
    return _ste(W, torch.clamp(torch.round(W / s), -INT8_MAX, INT8_MAX) * s)


def fq_state(v):
    return _ste(v, torch.round(v * _Q) / _Q)


def lut_sigmoid(a):
    """σ at the nearest table point (clamped to the table), rounded to Q14; STE."""
    top = LUT_RANGE - 1.0 / _LUT_STEPS
    ai = torch.clamp(torch.round(a * _LUT_STEPS) / _LUT_STEPS, -LUT_RANGE, top)
    return fq_state(_ste(torch.sigmoid(a), torch.sigmoid(ai)))


def _layer(rnn, x, state):
    T, B, _ = x.shape
    H = rnn.hidden_size
    y, c = state
    W, R = fq_weight(rnn.kernel), fq_weight(rnn.recurrent_kernel)
    thr = fq_state(rnn.thr.clamp(0.0, 1.0))
    wx_all = torch.addmm(rnn.bias, x.reshape(T * B, -1), W).view(T, B, 3 * H)
    ys = []
    for t in range(T):
        wx = wx_all[t]
        rh = torch.addmm(rnn.recurrent_bias, y, R)
        z = lut_sigmoid(wx[:, :H] + rh[:, :H])
        r = lut_sigmoid(wx[:, H:2 * H] + rh[:, H:2 * H])
        g = 2 * lut_sigmoid(2 * (wx[:, 2 * H:] + r * rh[:, 2 * H:])) - 1
        cc = fq_state(z * c + (1 - z) * g)
        o = SpikeFunction.apply(cc - thr, rnn.dampening, rnn.support)
        y = o * cc
        c = cc - o * thr
        ys.append(y)
    return torch.stack(ys), (y, c)


def qat_forward(model: EGRULM, tokens, state, x_scale: float):
    """(logits, state) of ``model`` with the int8 deployment's roundings fake-quantised."""
    h = model.drop_emb(model.encoder(tokens))
    h = _ste(h, torch.clamp(torch.round(h / x_scale), -INT8_MAX, INT8_MAX) * x_scale)
    if state is None:
        state = model.init_state(tokens.shape[1])
    new_state = []
    for i, rnn in enumerate(model.rnns):
        h, s = _layer(rnn, h, state[i])
        new_state.append(s)
        if i < len(model.rnns) - 1:
            h = model.drop_between(h)
    return model.decode(h), new_state


def torch_from_lm(lm) -> EGRULM:
    """An EGRULM holding an LMModel's weights (inverse of ``egru_lm_to_numpy``)."""
    V, E = lm.embedding.shape
    m = EGRULM(V, E, lm.layer_sizes)
    with torch.no_grad():
        m.encoder.weight.copy_(torch.from_numpy(lm.embedding))
        m.decoder_bias.copy_(torch.from_numpy(lm.decoder_bias))
        for rnn, layer in zip(m.rnns, lm.stack.layers, strict=True):
            rnn.kernel.copy_(torch.from_numpy(layer.W))
            rnn.recurrent_kernel.copy_(torch.from_numpy(layer.R))
            rnn.bias.copy_(torch.from_numpy(layer.b_x))
            rnn.recurrent_bias.copy_(torch.from_numpy(layer.b_r))
            rnn.thr.copy_(torch.from_numpy(layer.theta))
    return m


def main(argv=None) -> int:
    from models.egru.checkpoint import load_named, save_checkpoint
    from models.egru.data import load_corpus

    p = argparse.ArgumentParser(prog="python -m models.egru.qat")
    p.add_argument("--model", default="small")
    p.add_argument("--data", default=None)
    p.add_argument("--minutes", type=float, default=8.0, help="CPU minutes of fine-tuning")
    p.add_argument("--steps", type=int, default=None,
                   help="exactly N optimiser steps (reproducible; overrides --minutes)")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--bptt", type=int, default=35)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--results", default=None, help="write fp32/PTQ/QAT numbers here (JSON)")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    lm = load_named(a.model)
    corpus = load_corpus("ptb", a.data)
    train, test = corpus.split("train"), corpus.split("test")
    fp = evaluate_float_batched(lm, test)
    q0 = ptq(lm, train[:CALIBRATION_TOKENS])
    ev_ptq = q0.evaluate(test)
    print(f"fp32 {fp.perplexity:.2f}  PTQ {ev_ptq.perplexity:.2f}", flush=True)
    model = torch_from_lm(lm)
    masks = {n: (p_ != 0).float() for n, p_ in model.named_parameters()
             if n.startswith("rnns.") and p_.dim() == 2}
    params = dict(model.named_parameters())
    opt = torch.optim.AdamW([p_ for p_ in model.parameters() if p_.requires_grad], lr=a.lr,
                            weight_decay=0.0)
    n = len(train) // a.batch
    src = torch.from_numpy(train[: n * a.batch].reshape(a.batch, n).T.copy())
    t0, state, step, i = time.process_time(), None, 0, 0
    model.train()
    def more() -> bool:
        if a.steps is not None:
            return step < a.steps
        return time.process_time() - t0 < a.minutes * 60

    while more():
        if i + a.bptt + 1 > src.shape[0]:
            i, state = 0, None
        x, y = src[i:i + a.bptt], src[i + 1:i + 1 + a.bptt]
        if state is not None:
            state = [tuple(t.detach() for t in s) for s in state]
        logits, state = qat_forward(model, x, state, q0.x_scale)
        loss = sequence_nll(logits, y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        opt.step()
        with torch.no_grad():
            for name, mk in masks.items():
                params[name].mul_(mk)
        i += a.bptt
        step += 1
        if step % 100 == 0:
            print(f"step {step} loss {float(loss):.3f} cpu {time.process_time() - t0:.0f}s",
                  flush=True)
    train_cpu_min = (time.process_time() - t0) / 60
    model.eval()
    tuned = egru_lm_to_numpy(model, lm.vocab, meta=dict(lm.meta))
    q1 = ptq(tuned, train[:CALIBRATION_TOKENS])
    ev_qat = q1.evaluate(test)
    out_lm = q1.model
    meta = dict(lm.meta)
    meta["quantisation"] = quant_meta(q1.x_scale, f"QAT {step} steps, batch {a.batch}, bptt "
                                      f"{a.bptt}, lr {a.lr:g}, seed {a.seed}, from {a.model}")
    out_lm.meta = meta
    save_checkpoint(a.out, out_lm, meta=meta)
    res = {"fp32": _row(fp), "ptq": _row(ev_ptq), "qat": _row(ev_qat), "qat_steps": step,
           "qat_cpu_minutes": train_cpu_min, "x_scale_ptq": q0.x_scale,
           "x_scale_qat": q1.x_scale, "command": "python -m models.egru.qat " + " ".join(
               argv if argv is not None else sys.argv[1:])}
    print(json.dumps(res, indent=1))
    if a.results:
        from models.egru.atomic import write_text_atomic

        write_text_atomic(a.results, json.dumps(res, indent=1, sort_keys=True))
    return 0


def _row(ev) -> dict:
    return {"test_ppl": ev.perplexity, "activity": ev.activity,
            "activation_sparsity": [1 - x for x in ev.activity], "tokens": ev.tokens}


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
