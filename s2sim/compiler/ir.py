"""Network IR: input source -> EGRU layers -> readout, with sparse weights.

Built from an ``LMModel`` / checkpoint (``Network.from_lm``, ``Network.from_checkpoint``), from
the paper-shape model (``Network.paper_shape``), or by hand in Python::

    net = Network.from_layers([EGRULayer(W, R, b_x, b_r, theta), ...])

The EGRU parameters are the numpy reference's (``models.egru.reference.EGRULayer``; gate order
``[z | r | g]``), so the oracle and the compiled program read the very same arrays.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.egru.reference import EGRULayer, EGRUStack
from s2sim.errors import CompileError

__all__ = ["InputSource", "Readout", "Network", "LayerStats"]


@dataclass
class InputSource:
    """Where the network's input comes from.

    ``n_out`` inputs per step. ``embedding`` (V, n_out) float32 is a host-side lookup table
    (token ids -> vectors); without one the inputs are vectors (frames) supplied per step.
    On the chip an input-source PE collects a step's values from the host and emits the nonzero
    ones as events.
    """

    n_out: int
    embedding: np.ndarray | None = None
    name: str = "input"


@dataclass
class Readout:
    """What happens to the last layer's events.

    ``weights`` (n_out, n_in) float32 and ``bias`` (n_out,): an on-chip linear readout (optionally
    of the output trace ``tr = 0.9 tr + 0.1 y`` when ``trace``), whose outputs go to the host each
    step. Without weights the readout PE forwards the step's events (unit, value) to the host
    (the LM's tied decoder runs there: ``host_decoder``).
    """

    n_in: int
    weights: np.ndarray | None = None
    bias: np.ndarray | None = None
    trace: bool = False
    host_decoder: str | None = None  # "tied" for the LM
    name: str = "readout"

    @property
    def n_out(self) -> int:
        return 0 if self.weights is None else int(self.weights.shape[0])


@dataclass
class LayerStats:
    """Per-unit nonzero counts of one EGRU layer (all three gates), used for sizing."""

    nnz_w_per_unit: np.ndarray  # (H,) nonzeros in the unit's 3 columns of W
    nnz_r_per_unit: np.ndarray  # (H,)
    nnz_w_per_row: np.ndarray  # (n_in,) nonzeros in each row of W
    nnz_r_per_row: np.ndarray  # (H,)


@dataclass
class Network:
    """An EGRU network: one input source, L EGRU layers, one readout."""

    layers: list[EGRULayer]
    input: InputSource
    readout: Readout
    name: str = "egru"
    ref: str | None = None  # how to rebuild it: "checkpoint:PATH" | "paper:seed=N" | None
    model: object = None  # the LMModel it came from, if any (host-side decoder)
    activity_hint: float | None = None  # measured/calibrated firing fraction (model metadata)
    quant: object = None  # int8 deployment: the integer stack (s2sim.compiler.precision)
    _stats: list[LayerStats] = field(default_factory=list, repr=False)
    _fingerprint: str | None = field(default=None, repr=False)
    _table_stats: tuple | None = field(default=None, repr=False)
    _stack: EGRUStack | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if not self.layers:
            raise CompileError(f"network {self.name!r}: needs at least one EGRU layer")
        if self.layers[0].n_in != self.input.n_out:
            raise CompileError(
                f"network {self.name!r}: layer 0 takes {self.layers[0].n_in} inputs, the input "
                f"source gives {self.input.n_out}")
        for i in range(1, len(self.layers)):
            if self.layers[i].n_in != self.layers[i - 1].hidden:
                raise CompileError(
                    f"network {self.name!r}: layer {i} takes {self.layers[i].n_in} inputs, layer "
                    f"{i - 1} has {self.layers[i - 1].hidden} units")
        if self.readout.n_in != self.layers[-1].hidden:
            raise CompileError(
                f"network {self.name!r}: readout takes {self.readout.n_in} inputs, last layer has "
                f"{self.layers[-1].hidden} units")
        if len(self.layers) > 250:
            raise CompileError(f"network {self.name!r}: {len(self.layers)} layers, key layout "
                               "allows at most 250")

    # -- constructors ------------------------------------------------------------------------
    @classmethod
    def from_layers(cls, layers, readout_weights=None, readout_bias=None, trace=False,
                    name="egru", embedding=None) -> Network:
        layers = list(layers)
        n_in = layers[0].n_in
        ro = Readout(n_in=layers[-1].hidden,
                     weights=None if readout_weights is None
                     else np.asarray(readout_weights, np.float32),
                     bias=None if readout_bias is None else np.asarray(readout_bias, np.float32),
                     trace=trace)
        if ro.weights is not None and ro.bias is None:
            ro.bias = np.zeros(ro.weights.shape[0], np.float32)
        return cls(layers=layers, input=InputSource(n_out=n_in, embedding=embedding),
                   readout=ro, name=name)

    @classmethod
    def from_stack(cls, stack: EGRUStack, **kw) -> Network:
        return cls.from_layers(stack.layers, **kw)

    @classmethod
    def from_lm(cls, model, name="lm", ref=None) -> Network:
        """An ``models.egru.lm.LMModel``: embedding and tied decoder on the host."""
        layers = list(model.stack.layers)
        net = cls(layers=layers,
                  input=InputSource(n_out=layers[0].n_in, embedding=model.embedding),
                  readout=Readout(n_in=layers[-1].hidden, host_decoder="tied"),
                  name=name, ref=ref, model=model,
                  activity_hint=activity_from_meta(getattr(model, "meta", None)))
        return net

    @classmethod
    def from_checkpoint(cls, path) -> Network:
        from models.egru.checkpoint import load_checkpoint

        path = Path(path)
        model = load_checkpoint(path)
        return cls.from_lm(model, name=path.stem, ref=f"checkpoint:{path.resolve()}")

    @classmethod
    def paper_shape(cls, seed: int = 0, embedding_sparsity: float = 0.0, width_scale: int = 1,
                    n_layers: int = 3) -> Network:
        from models.egru.names import PAPER, ModelRef
        from models.egru.paper import paper_shape_model

        ref = ModelRef(PAPER, PAPER, seed=seed, embedding_sparsity=embedding_sparsity,
                       width_scale=width_scale, n_layers=n_layers)
        model = paper_shape_model(seed=seed, embedding_sparsity=embedding_sparsity,
                                  width_scale=width_scale, n_layers=n_layers)
        return cls.from_lm(model, name=model.meta["name"], ref=ref.network_ref)

    # -- views -------------------------------------------------------------------------------
    def __getstate__(self):
        state = dict(self.__dict__)
        state["_stack"] = None  # a cache of the layers: not shipped (e.g. to a sweep worker)
        return state

    @property
    def stack(self) -> EGRUStack:
        """The layers as a stack, kept while they are the same layer objects: the stack caches
        the wavefront's joint CSR layout, which every oracle and analytic window would rebuild."""
        st = self._stack
        if st is None or len(st.layers) != len(self.layers) or any(
                a is not b for a, b in zip(st.layers, self.layers, strict=True)):
            st = self._stack = EGRUStack(self.layers)
        return st

    @property
    def sizes(self) -> list[int]:
        return [layer.hidden for layer in self.layers]

    def stats(self, i: int) -> LayerStats:
        if not self._stats:
            for layer in self.layers:
                H = layer.hidden
                wnz = layer.W != 0
                rnz = layer.R != 0
                wc = wnz.sum(axis=0)
                rc = rnz.sum(axis=0)
                self._stats.append(LayerStats(
                    nnz_w_per_unit=(wc[:H] + wc[H:2 * H] + wc[2 * H:]).astype(np.int64),
                    nnz_r_per_unit=(rc[:H] + rc[H:2 * H] + rc[2 * H:]).astype(np.int64),
                    nnz_w_per_row=wnz.sum(axis=1).astype(np.int64),
                    nnz_r_per_row=rnz.sum(axis=1).astype(np.int64),
                ))
        return self._stats[i]

    def table_stats(self) -> tuple[np.ndarray, int]:
        """(nonzeros per row, bytes per stored value) of the tied embedding/decoder table, for
        the on-chip decoder (``firmware_py.kinds.decoder``); cached (the compile is repeated for
        the auto tick)."""
        if self._table_stats is None:
            from firmware_py.kinds.decoder import table_value_bytes

            emb = self.input.embedding
            self._table_stats = (np.count_nonzero(emb, axis=1).astype(np.int64),
                                 table_value_bytes(emb))
        return self._table_stats

    def fingerprint(self) -> str:
        """sha256 over every on-chip parameter (and the shape of the host-side embedding)."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            for layer in self.layers:
                for a in (layer.W, layer.R, layer.b_x, layer.b_r, layer.theta):
                    h.update(str(a.shape).encode())
                    h.update(np.ascontiguousarray(a).tobytes())
            for a in (self.readout.weights, self.readout.bias):
                if a is not None:
                    h.update(np.ascontiguousarray(a).tobytes())
            h.update(f"trace={self.readout.trace};dec={self.readout.host_decoder}".encode())
            if self.quant is not None:
                h.update(b"precision=int8")
                for q in self.quant.layers:
                    for a in (q.m_w, q.m_r, q.b_x, q.b_r, q.theta):
                        h.update(np.ascontiguousarray(a).tobytes())
                    h.update(f"{q.sh_w},{q.sh_r},{q.x_scale!r}".encode())
            if self.input.embedding is not None:
                h.update(str(self.input.embedding.shape).encode())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def describe(self) -> list[dict]:
        out = []
        for i, layer in enumerate(self.layers):
            st = self.stats(i)
            out.append({
                "layer": i, "n_in": layer.n_in, "hidden": layer.hidden,
                "nnz_w": int(st.nnz_w_per_unit.sum()), "nnz_r": int(st.nnz_r_per_unit.sum()),
                "density": float((st.nnz_w_per_unit.sum() + st.nnz_r_per_unit.sum())
                                 / (3 * layer.hidden * (layer.n_in + layer.hidden))),
            })
        return out


def activity_from_meta(meta) -> float | None:
    """The largest per-layer activity a model's metadata records (keys ``activity_reached`` or
    ``activity``, a number or a list, anywhere in the nesting), or None."""
    found: list[float] = []

    def walk(obj):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k in ("activity_reached", "activity"):
                    vals = v if isinstance(v, list | tuple) else [v]
                    found.extend(float(x) for x in vals if isinstance(x, int | float))
                else:
                    walk(v)

    walk(meta or {})
    good = [a for a in found if 0.0 < a <= 1.0]
    return max(good) if good else None


def resolve_network(ref) -> Network:
    """The network a model argument or a mapping's ``network_ref`` names (``small``, ``paper``,
    ``paper:seed=N``, ``gesture``, ``checkpoint:PATH``, PATH: ``models.egru.names``), or a
    ``ModelRef`` already resolved."""
    from models.egru.names import GESTURE, PAPER, resolve_model

    if not ref:
        raise CompileError("mapping has no network_ref (network built in Python): pass network=")
    model = resolve_model(ref) if isinstance(ref, str) else ref
    if model.kind == PAPER:
        return Network.paper_shape(seed=model.seed, embedding_sparsity=model.embedding_sparsity,
                                   width_scale=model.width_scale, n_layers=model.n_layers)
    if model.kind == GESTURE:
        from models.egru.gesture.model import GestureModel

        gm = GestureModel.load(model.path)
        net = Network.from_layers(gm.stack.layers, readout_weights=gm.readout_W.T.copy(),
                                  readout_bias=gm.readout_b, trace=True, name="gesture")
        net.ref = model.network_ref  # so that a compiled gesture mapping can be run from JSON
        return net
    net = Network.from_checkpoint(model.path)
    net.ref = model.network_ref  # a shipped checkpoint by its name, found in any checkout
    return net
