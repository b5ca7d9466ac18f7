"""EGRU cell and language models in PyTorch, for training.

The forward pass is the math of ``models.egru.reference`` (and of EvNN's ``EGRUScript``): the
same gate order ``[z | r | g]``, reset applied after the recurrent matmul, strict Heaviside
``c − θ > 0``, graded output ``y = o ⊙ c``, subtractive reset, θ clamped to [0, 1]. The
Heaviside's gradient is the triangular pseudo-derivative ``γ · max(0, 1 − ε |c − θ|)``.
Parameters carry EvNN's names (``kernel``, ``recurrent_kernel``, ``bias``, ``recurrent_bias``,
``thr``) so a state dict moves between the two unchanged.

Generic pieces (``EGRU``, ``SpikeFunction``, ``egru_layer_to_numpy``) are reused by the gesture
model; the LM classes share one interface with the LSTM baseline:
``forward(tokens (T, B), state) -> (logits (T, B, V), state, outputs per layer)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.egru.lm import LMModel
from models.egru.reference import EGRULayer, EGRUStack

__all__ = ["SpikeFunction", "EGRU", "EGRULM", "LSTMLM", "egru_layer_to_numpy",
           "egru_lm_to_numpy", "prunable_weights"]

# LM recipe pseudo-derivative (shared docs/egru.md): gamma = epsilon = 3.6.
LM_DAMPENING = 3.6
LM_SUPPORT = 3.6


class SpikeFunction(torch.autograd.Function):
    """Heaviside(v > 0) forward; triangular pseudo-derivative γ·max(0, 1 − ε|v|) backward."""

    @staticmethod
    def forward(ctx, v, dampening: float, support: float):
        ctx.save_for_backward(v)
        ctx.dampening = dampening
        ctx.support = support
        return (v > 0).to(v.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        (v,) = ctx.saved_tensors
        surrogate = ctx.dampening * torch.clamp(1.0 - ctx.support * v.abs(), min=0.0)
        return grad_out * surrogate, None, None


class EGRU(nn.Module):
    """One EGRU layer over a sequence (T, B, n_in); EvNN parameter names and layout.

    ``dropconnect``: DropConnect probability on the recurrent kernel during training.
    ``thr_mean``: thresholds drawn from Beta(α, 3) with mean thr_mean (EvNN's initialisation);
    ``train_thr`` whether they are learned (the LM recipe freezes them).
    """

    def __init__(self, input_size: int, hidden_size: int, thr_mean: float = 0.01,
                 train_thr: bool = False, dropconnect: float = 0.0,
                 dampening: float = LM_DAMPENING, support: float = LM_SUPPORT,
                 generator: torch.Generator | None = None):
        super().__init__()
        if not 0 < thr_mean < 1:
            raise ValueError(f"thr_mean must be in (0, 1), got {thr_mean}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.dropconnect = dropconnect
        self.dampening = dampening
        self.support = support
        H = hidden_size
        self.kernel = nn.Parameter(torch.empty(input_size, 3 * H))
        self.recurrent_kernel = nn.Parameter(torch.empty(H, 3 * H))
        self.bias = nn.Parameter(torch.zeros(3 * H))
        self.recurrent_bias = nn.Parameter(torch.zeros(3 * H))
        nn.init.xavier_normal_(self.kernel, generator=generator)
        # orthogonal per gate block keeps the recurrent dynamics well conditioned at start
        for k in range(3):
            blk = torch.empty(H, H)
            nn.init.orthogonal_(blk, generator=generator)
            with torch.no_grad():
                self.recurrent_kernel[:, k * H:(k + 1) * H] = blk
        beta = 3.0
        alpha = beta * thr_mean / (1 - thr_mean)
        # Beta via two Gammas so that the draw follows ``generator``
        ga = torch._standard_gamma(torch.full((H,), alpha), generator=generator)
        gb = torch._standard_gamma(torch.full((H,), beta), generator=generator)
        self.thr = nn.Parameter(ga / (ga + gb), requires_grad=train_thr)

    def zero_state(self, batch: int, device=None):
        z = torch.zeros(batch, self.hidden_size, device=device)
        return z, z.clone()

    def forward(self, x, state=None):
        """x (T, B, n_in) -> y (T, B, H), (y_T, c_T). Also stores ``self.last_events``: the
        events o (T, B, H) as 0/1 with the pseudo-derivative attached, for an activity loss."""
        T, B, _ = x.shape
        if state is None:
            state = self.zero_state(B, x.device)
        y, c = state
        with torch.no_grad():
            self.thr.clamp_(0.0, 1.0)  # as EvNN: thresholds live in [0, 1]
        R = self.recurrent_kernel
        if self.training and self.dropconnect > 0:
            R = F.dropout(R, self.dropconnect, True)
        H = self.hidden_size
        wx_all = torch.addmm(self.bias, x.reshape(T * B, -1), self.kernel).view(T, B, 3 * H)
        ys, events = [], []
        for t in range(T):
            wx = wx_all[t]
            rh = torch.addmm(self.recurrent_bias, y, R)
            z = torch.sigmoid(wx[:, :H] + rh[:, :H])
            r = torch.sigmoid(wx[:, H:2 * H] + rh[:, H:2 * H])
            g = torch.tanh(wx[:, 2 * H:] + r * rh[:, 2 * H:])
            cc = z * c + (1 - z) * g
            o = SpikeFunction.apply(cc - self.thr, self.dampening, self.support)
            y = o * cc
            c = cc - o * self.thr
            ys.append(y)
            events.append(o)
        self.last_events = torch.stack(events)
        return torch.stack(ys), (y, c)


def egru_layer_to_numpy(layer: EGRU) -> EGRULayer:
    """The reference layer with this layer's parameters (float32 copies)."""
    def f(p):
        return p.detach().cpu().numpy().astype(np.float32).copy()
    return EGRULayer(f(layer.kernel), f(layer.recurrent_kernel), f(layer.bias),
                     f(layer.recurrent_bias), f(layer.thr))


class _LMBase(nn.Module):
    def __init__(self, vocab_size: int, emb_size: int, dropout_emb: float, dropout_out: float):
        super().__init__()
        self.vocab_size = vocab_size
        self.emb_size = emb_size
        self.encoder = nn.Embedding(vocab_size, emb_size)
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        self.decoder_bias = nn.Parameter(torch.zeros(vocab_size))
        self.drop_emb = nn.Dropout(dropout_emb)
        self.drop_out = nn.Dropout(dropout_out)

    def decode(self, h):
        # tied decoder: logits = h · Eᵀ + b
        return F.linear(self.drop_out(h), self.encoder.weight, self.decoder_bias)

    def forward(self, tokens, state=None):
        """tokens (T, B) -> (logits, new state per layer, outputs per layer); subclasses set
        ``rnns``, ``drop_between`` and ``init_state``."""
        h, new_state, outs = self.hidden(tokens, state)
        return self.decode(h), new_state, outs

    def hidden(self, tokens, state=None):
        """The top layer's output before the decoder: (h (T, B, E), new state, outputs)."""
        h = self.drop_emb(self.encoder(tokens))
        if state is None:
            state = self.init_state(tokens.shape[1])
        new_state, outs = [], []
        for i, rnn in enumerate(self.rnns):
            h, s = rnn(h, state[i])
            new_state.append(s)
            outs.append(h)
            if i < len(self.rnns) - 1:
                h = self.drop_between(h)
        return h, new_state, outs


class EGRULM(_LMBase):
    """embedding -> EGRU layers -> tied decoder. ``layers[-1]`` must equal ``emb_size``."""

    kind = "egru"

    def __init__(self, vocab_size: int, emb_size: int, layers: list[int], thr_mean: float = 0.01,
                 dropout_emb: float = 0.1, dropout_between: float = 0.1,
                 dropout_out: float = 0.1, dropconnect: float = 0.0, seed: int = 0):
        super().__init__(vocab_size, emb_size, dropout_emb, dropout_out)
        if layers[-1] != emb_size:
            raise ValueError("tied decoder: last layer width must equal the embedding size")
        gen = torch.Generator().manual_seed(seed)
        sizes = [emb_size, *layers]
        self.rnns = nn.ModuleList(
            EGRU(sizes[i], sizes[i + 1], thr_mean=thr_mean, dropconnect=dropconnect,
                 generator=gen) for i in range(len(layers)))
        self.drop_between = nn.Dropout(dropout_between)
        self.layer_sizes = list(layers)

    def init_state(self, batch: int):
        return [r.zero_state(batch) for r in self.rnns]


class LSTMLM(_LMBase):
    """The LSTM baseline: embedding -> LSTM layers -> tied decoder, same interface as EGRULM."""

    kind = "lstm"

    def __init__(self, vocab_size: int, emb_size: int, layers: list[int],
                 dropout_emb: float = 0.1, dropout_between: float = 0.1,
                 dropout_out: float = 0.1, seed: int = 0, **_ignored):
        super().__init__(vocab_size, emb_size, dropout_emb, dropout_out)
        if layers[-1] != emb_size:
            raise ValueError("tied decoder: last layer width must equal the embedding size")
        torch.manual_seed(seed)
        sizes = [emb_size, *layers]
        self.rnns = nn.ModuleList(nn.LSTM(sizes[i], sizes[i + 1]) for i in range(len(layers)))
        self.drop_between = nn.Dropout(dropout_between)
        self.layer_sizes = list(layers)

    def init_state(self, batch: int):
        return [(torch.zeros(1, batch, r.hidden_size), torch.zeros(1, batch, r.hidden_size))
                for r in self.rnns]


def detach_state(state):
    return [tuple(t.detach() for t in s) for s in state]


def prunable_weights(model: nn.Module, embedding: bool = False) -> dict[str, nn.Parameter]:
    """The weights magnitude pruning acts on: the recurrent layers' input and recurrent matrices
    (what runs on the chip), and with ``embedding`` the tied embedding/decoder table too (for a
    deployment that holds it on the chip, ``--decoder chip``); by default it stays dense."""
    out = {}
    for name, p in model.named_parameters():
        if (name.startswith("rnns.") and p.dim() == 2) or (embedding and name == "encoder.weight"):
            out[name] = p
    return out


def egru_lm_to_numpy(model: EGRULM, vocab: list[str] | None = None,
                     meta: dict | None = None) -> LMModel:
    """The numpy LMModel (reference oracle) with this torch model's weights."""
    stack = EGRUStack([egru_layer_to_numpy(r) for r in model.rnns])
    emb = model.encoder.weight.detach().cpu().numpy().astype(np.float32).copy()
    bias = model.decoder_bias.detach().cpu().numpy().astype(np.float32).copy()
    return LMModel(embedding=emb, stack=stack, decoder_bias=bias, vocab=vocab,
                   meta=dict(meta or {}))


def count_params(model: nn.Module) -> dict:
    emb = model.encoder.weight.numel() + model.decoder_bias.numel()
    rnn = sum(p.numel() for n, p in model.named_parameters() if n.startswith("rnns."))
    return {"embedding_and_decoder": emb, "recurrent": rnn, "total": emb + rnn}


def sequence_nll(logits, targets) -> torch.Tensor:
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def perplexity(nll: float) -> float:
    return math.exp(min(nll, 50.0))
