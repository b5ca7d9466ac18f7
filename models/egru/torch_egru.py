"""EGRU cell and language models in PyTorch, for training.

The forward pass is the math of ``models.egru.reference`` (and of EvNN's ``EGRUScript``): the
same gate order ``[z | r | g]``, reset applied after the recurrent matmul, strict Heaviside
``c − θ > 0``, graded output ``y = o ⊙ c``, subtractive reset, θ clamped to [0, 1]. The
Heaviside's gradient is the triangular pseudo-derivative ``γ · max(0, 1 − ε |c − θ|)``.

The input and recurrent matrices are ``nn.Linear`` modules (``W``: n_in → 3H, ``R``: H → 3H;
their ``weight`` is EvNN's ``kernel`` / ``recurrent_kernel`` transposed, their ``bias`` EvNN's
``bias`` / ``recurrent_bias``) and the Heaviside is a module (``events``, an ``EventOutput``
whose output is the event flag o of every neuron each step), so that NeuroBench's own metric
code finds them: ``ConnectionSparsity`` and ``Footprint`` from the ``nn.Linear`` weights,
``SynapticOperations`` from the inputs of ``W`` and ``R``, ``ActivationSparsity`` from the
output of ``events`` (register ``EventOutput`` with ``TorchModel.add_activation_module``;
``docs/models.md``). EvNN's names still load: a state dict with ``kernel``,
``recurrent_kernel``, ``bias`` and ``recurrent_bias`` (an EvNN model's, or a training state
saved before this layout) is converted on ``load_state_dict``, and the layer keeps read-only
views under those names (``layer.kernel`` is ``layer.W.weight.T``).

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

__all__ = ["SpikeFunction", "EventOutput", "EvLinear", "EGRU", "EGRULM", "LSTMLM",
           "egru_layer_to_numpy", "egru_lm_to_numpy", "egru_lm_from_numpy", "prunable_weights",
           "upgrade_masks", "upgrade_training_state"]

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


class EventOutput(nn.Module):
    """The Heaviside of an EGRU layer as a module: ``o = H(v)`` with the triangular
    pseudo-derivative (``SpikeFunction``); ``v = c − θ``. Its output (one 0/1 flag per neuron,
    a neuron's graded output y = o ⊙ c is zero exactly where o is) is what NeuroBench's
    ``ActivationSparsity`` hooks."""

    def __init__(self, dampening: float = LM_DAMPENING, support: float = LM_SUPPORT):
        super().__init__()
        self.dampening = dampening
        self.support = support

    def forward(self, v):
        return SpikeFunction.apply(v, self.dampening, self.support)

    def extra_repr(self) -> str:
        return f"dampening={self.dampening}, support={self.support}"


# EvNN's parameter names -> (module, parameter, transposed) of this layout
EVNN_NAMES = {"kernel": ("W", "weight", True), "recurrent_kernel": ("R", "weight", True),
              "bias": ("W", "bias", False), "recurrent_bias": ("R", "bias", False)}


def evnn_to_linear_key(key: str) -> str | None:
    """The name in this layout of an EvNN-named parameter key (``rnns.0.kernel`` ->
    ``rnns.0.W.weight``), or None if ``key`` is not one."""
    prefix, _, name = key.rpartition(".")
    if name not in EVNN_NAMES or prefix.rpartition(".")[2] in ("W", "R"):
        return None  # not EvNN's, or already this layout's (``rnns.0.W.bias``)
    mod, param, _ = EVNN_NAMES[name]
    return f"{prefix}.{mod}.{param}" if prefix else f"{mod}.{param}"


def upgrade_masks(masks: dict) -> dict:
    """Pruning masks keyed by EvNN names (a training state saved before the ``nn.Linear``
    layout) renamed and transposed to this layout; other keys are kept as they are."""
    out = {}
    for k, m in masks.items():
        new = evnn_to_linear_key(k)
        transposed = new is not None and EVNN_NAMES[k.rpartition(".")[2]][2]
        out[new or k] = m.t().contiguous() if transposed else m
    return out


def upgrade_training_state(model: nn.Module, model_state: dict, opt_state: dict | None = None,
                           masks: dict | None = None):
    """A training state saved before the ``nn.Linear`` layout (EvNN-named parameters), made
    loadable into ``model``: ``(model_state, opt_state, masks)`` with the parameters renamed and
    transposed, the optimiser's per-parameter state moved to ``model.parameters()``'s order and
    transposed alike, and the pruning masks renamed and transposed. A state already in this
    layout is returned as it is."""
    if not any(evnn_to_linear_key(k) for k in model_state):
        return model_state, opt_state, masks
    old_names = list(model_state)  # state_dict order == parameters() order (no buffers here)
    new_index = {n: j for j, (n, _) in enumerate(model.named_parameters())}

    def moved(i: int) -> tuple[int, bool]:
        old = old_names[i]
        new = evnn_to_linear_key(old)
        return new_index[new or old], new is not None and EVNN_NAMES[old.rpartition(".")[2]][2]

    if opt_state is not None:
        state = {}
        for i, per_param in opt_state["state"].items():
            j, transposed = moved(int(i))
            state[j] = {k: v.t().contiguous() if transposed and torch.is_tensor(v) and v.dim() == 2
                        else v for k, v in per_param.items()}
        groups = [{**g, "params": sorted(moved(i)[0] for i in g["params"])}
                  for g in opt_state["param_groups"]]
        opt_state = {**opt_state, "state": state, "param_groups": groups}
    new_state = {}
    for k, v in model_state.items():
        new = evnn_to_linear_key(k)
        transposed = new is not None and EVNN_NAMES[k.rpartition(".")[2]][2]
        new_state[new or k] = v.t().contiguous() if transposed else v
    ordered = {n: new_state[n] for n in new_index if n in new_state}
    return ordered, opt_state, None if masks is None else upgrade_masks(masks)


class EvLinear(nn.Linear):
    """``nn.Linear`` computed as EvNN computes it: ``addmm(bias, x, kernel)`` with the
    contiguous (n_in, n_out) kernel (``weight.T``), so that results are bit for bit those of the
    EvNN layout (a transposed operand can round differently, and one flipped event changes a
    sequence). ``kernel``: the contiguous kernel when the caller has it already (one copy per
    sequence, not per step; forward hooks still see ``x`` alone as the input)."""

    def forward(self, x, kernel=None):
        k = self.weight.t().contiguous() if kernel is None else kernel
        if x.dim() == 2:
            return torch.addmm(self.bias, x, k)
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), k).view(*x.shape[:-1], -1)


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
        # skip_init: nn.Linear's own initialisation would draw from torch's global RNG and so
        # change every later draw (dropout) of a seeded training run
        self.W = nn.utils.skip_init(EvLinear, input_size, 3 * H)
        self.R = nn.utils.skip_init(EvLinear, H, 3 * H)
        # EvNN's initialisation, drawn in EvNN's (n_in, 3H) layout so that a seed gives the
        # same weights as before the nn.Linear layout
        kernel = torch.empty(input_size, 3 * H)
        nn.init.xavier_normal_(kernel, generator=generator)
        recurrent = torch.empty(H, 3 * H)
        # orthogonal per gate block keeps the recurrent dynamics well conditioned at start
        for k in range(3):
            blk = torch.empty(H, H)
            nn.init.orthogonal_(blk, generator=generator)
            recurrent[:, k * H:(k + 1) * H] = blk
        with torch.no_grad():
            self.W.weight.copy_(kernel.t())
            self.R.weight.copy_(recurrent.t())
            self.W.bias.zero_()
            self.R.bias.zero_()
        self.events_name = "events"
        self.events = EventOutput(dampening, support)
        beta = 3.0
        alpha = beta * thr_mean / (1 - thr_mean)
        # Beta via two Gammas so that the draw follows ``generator``
        ga = torch._standard_gamma(torch.full((H,), alpha), generator=generator)
        gb = torch._standard_gamma(torch.full((H,), beta), generator=generator)
        self.thr = nn.Parameter(ga / (ga + gb), requires_grad=train_thr)

    # EvNN's names, as read-only views of the nn.Linear parameters (an in-place change of a
    # view, e.g. ``layer.kernel.mul_(2)`` under no_grad, changes the weight)
    @property
    def kernel(self):
        return self.W.weight.t()

    @property
    def recurrent_kernel(self):
        return self.R.weight.t()

    @property
    def bias(self):
        return self.W.bias

    @property
    def recurrent_bias(self):
        return self.R.bias

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Accept EvNN's names (``kernel`` (n_in, 3H), ``recurrent_kernel`` (H, 3H), ``bias``,
        ``recurrent_bias``): renamed and transposed to ``W``/``R`` before loading."""
        for name, (mod, param, transposed) in EVNN_NAMES.items():
            old = prefix + name
            if old in state_dict:
                v = state_dict.pop(old)
                state_dict[f"{prefix}{mod}.{param}"] = v.t() if transposed else v
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def name_events(self, name: str) -> None:
        """Rename the ``EventOutput`` child (NeuroBench's ``ActivationSparsityByLayer`` keys its
        figures by a module's own name, so the layers of a stack need distinct ones; the module
        has no parameters, so state dicts are unchanged)."""
        self._modules = {(name if k == self.events_name else k): v
                         for k, v in self._modules.items()}
        self.events_name = name

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
        H = self.hidden_size
        R = self.R.weight.t().contiguous()
        if self.training and self.dropconnect > 0:
            R = F.dropout(R, self.dropconnect, True)
        wx_all = self.W(x.reshape(T * B, -1)).view(T, B, 3 * H)
        ys, events = [], []
        for t in range(T):
            wx = wx_all[t]
            rh = self.R(y, kernel=R)  # a keyword: hooks see y alone as the input
            z = torch.sigmoid(wx[:, :H] + rh[:, :H])
            r = torch.sigmoid(wx[:, H:2 * H] + rh[:, H:2 * H])
            g = torch.tanh(wx[:, 2 * H:] + r * rh[:, 2 * H:])
            cc = z * c + (1 - z) * g
            o = self._modules[self.events_name](cc - self.thr)
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
        for i, rnn in enumerate(self.rnns):
            rnn.name_events(f"events_{i}")  # ActivationSparsityByLayer's key of layer i
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


def egru_lm_from_numpy(lm: LMModel) -> EGRULM:
    """The torch EGRULM (eval mode) with the weights of a numpy LMModel, e.g. a shipped
    checkpoint (``models.egru.checkpoint.load_checkpoint``), for NeuroBench or fine-tuning; its
    forward computes what ``lm`` computes (events identical, values within float rounding)."""
    model = EGRULM(lm.vocab_size, lm.embedding_dim, lm.layer_sizes,
                   dropout_emb=0.0, dropout_between=0.0, dropout_out=0.0)
    state = {"encoder.weight": lm.embedding, "decoder_bias": lm.decoder_bias}
    for i, layer in enumerate(lm.stack.layers):
        state.update({f"rnns.{i}.kernel": layer.W, f"rnns.{i}.recurrent_kernel": layer.R,
                      f"rnns.{i}.bias": layer.b_x, f"rnns.{i}.recurrent_bias": layer.b_r,
                      f"rnns.{i}.thr": layer.theta})
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v, np.float32))
                           for k, v in state.items()})
    return model.eval()


def count_params(model: nn.Module) -> dict:
    emb = model.encoder.weight.numel() + model.decoder_bias.numel()
    rnn = sum(p.numel() for n, p in model.named_parameters() if n.startswith("rnns."))
    return {"embedding_and_decoder": emb, "recurrent": rnn, "total": emb + rnn}


def sequence_nll(logits, targets) -> torch.Tensor:
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def perplexity(nll: float) -> float:
    return math.exp(min(nll, 50.0))
