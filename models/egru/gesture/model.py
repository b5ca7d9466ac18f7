"""The gesture classifier: pooled event frames -> EGRU layer(s) -> readout from the output trace.

    x_t  (n_in = 2 · 16 · 16 = 512 pooled log-counts per 25 ms bin, see preprocess.py)
    y_t  = EGRU stack(x_t)                       (graded events of the last layer, H units)
    tr_t = 0.9 · tr_{t-1} + 0.1 · y_t            (output trace, Subramoney et al. 2023)
    logits = mean_t(tr_t) · W_out + b_out        (11 classes)

Why this shape for Cortex-M4F cores: no convolutional front end (a CNN over 128 × 128 frames is
millions of MACs per step on cores without SIMD floats); pooling is a shift per event; the EGRU
layer does work only for nonzero inputs and for units that fired, which the chip exploits.
The readout is 11 × H MACs per step on the trace; on the chip a readout PE computes
``tr_t · W_out + b_out`` every step and sends it to the host, which averages over the steps:
``mean_t(tr_t · W + b) = mean_t(tr_t) · W + b``, so chip and functional path compute the same
logits (tested), and a prediction is available after any number of steps.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from models.egru.atomic import write_bytes_atomic
from models.egru.errors import CheckpointError
from models.egru.gesture.io import N_CLASSES
from models.egru.gesture.preprocess import FrameConfig
from models.egru.reference import EGRULayer, EGRUStack, StackTrace

FORMAT = "s2sim-gesture-egru"
VERSION = 1
TRACE_DECAY = np.float32(0.9)
_F32 = np.float32


@dataclass
class Prediction:
    label: int
    logits: np.ndarray  # (n_classes,) float32
    trace: StackTrace


@dataclass
class GestureModel:
    stack: EGRUStack
    readout_W: np.ndarray  # (H_last, n_classes) float32
    readout_b: np.ndarray  # (n_classes,) float32
    frame: FrameConfig = field(default_factory=FrameConfig)
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        H = self.stack.sizes[-1]
        self.readout_W = np.asarray(self.readout_W, dtype=_F32)
        self.readout_b = np.asarray(self.readout_b, dtype=_F32)
        if self.readout_W.shape != (H, N_CLASSES) or self.readout_b.shape != (N_CLASSES,):
            raise CheckpointError(
                f"gesture readout shapes W {self.readout_W.shape}, b {self.readout_b.shape}; "
                f"expected ({H}, {N_CLASSES}) and ({N_CLASSES},)")
        if self.stack.n_in != self.frame.n_in:
            raise CheckpointError(f"gesture model input {self.stack.n_in} does not match the "
                                  f"frame size {self.frame.n_in} (pool {self.frame.pool})")

    @property
    def n_params(self) -> int:
        return sum(layer.n_params for layer in self.stack.layers) + self.readout_W.size + (
            self.readout_b.size)

    # -- readout ---------------------------------------------------------------------------
    def output_trace(self, ys: np.ndarray) -> np.ndarray:
        """tr_t = 0.9 tr_{t-1} + 0.1 y_t over the last layer's outputs ys (T, H)."""
        tr = np.zeros(ys.shape[-1], _F32)
        out = np.zeros_like(ys, dtype=_F32)
        for t in range(ys.shape[0]):
            tr = TRACE_DECAY * tr + (_F32(1) - TRACE_DECAY) * ys[t].astype(_F32)
            out[t] = tr
        return out

    def logits_from_outputs(self, ys: np.ndarray) -> np.ndarray:
        """The host-side readout from the last layer's graded events ys (T, H)."""
        tr = self.output_trace(np.asarray(ys, dtype=_F32))
        return (tr.mean(axis=0).astype(_F32) @ self.readout_W + self.readout_b).astype(_F32)

    def predict(self, xs: np.ndarray) -> Prediction:
        """Functional (numpy reference) prediction for one sample's frames xs (T, n_in)."""
        tr = self.stack.run(np.asarray(xs, dtype=_F32))
        logits = self.logits_from_outputs(tr.ys[-1])
        return Prediction(int(np.argmax(logits)), logits, tr)

    # -- checkpoint ------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` checkpoint atomically (float32 arrays + JSON header)."""
        path = Path(path)
        arrays = {}
        for i, layer in enumerate(self.stack.layers):
            for name in ("W", "R", "b_x", "b_r", "theta"):
                arrays[f"layer{i}.{name}"] = getattr(layer, name)
        arrays["readout.W"] = self.readout_W
        arrays["readout.b"] = self.readout_b
        header = {"format": FORMAT, "version": VERSION, "n_layers": len(self.stack.layers),
                  "frame": asdict(self.frame), "meta": self.meta}
        arrays["header"] = np.frombuffer(json.dumps(header, sort_keys=True).encode(), np.uint8)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return write_bytes_atomic(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> GestureModel:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except FileNotFoundError:
            raise CheckpointError(f"{path}: gesture checkpoint not found") from None
        except Exception as exc:  # zip/npy decoding errors of a damaged file
            raise CheckpointError(f"{path}: not a readable .npz checkpoint ({type(exc).__name__})"
                                  ) from None
        try:
            header = json.loads(bytes(data.pop("header")).decode())
        except (KeyError, ValueError):
            raise CheckpointError(f"{path}: checkpoint has no valid header") from None
        if header.get("format") != FORMAT or header.get("version") != VERSION:
            raise CheckpointError(f"{path}: format {header.get('format')!r} version "
                                  f"{header.get('version')!r}, expected {FORMAT!r} {VERSION}")
        try:
            layers = [
                EGRULayer(*(data[f"layer{i}.{n}"] for n in ("W", "R", "b_x", "b_r", "theta")))
                for i in range(int(header["n_layers"]))
            ]
            return cls(EGRUStack(layers), data["readout.W"], data["readout.b"],
                       FrameConfig(**header["frame"]), header.get("meta", {}))
        except KeyError as exc:
            raise CheckpointError(f"{path}: checkpoint lacks array {exc.args[0]}") from None
        except CheckpointError:
            raise
        except Exception as exc:  # ModelError on shapes/dtypes
            raise CheckpointError(f"{path}: {exc}") from None


DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "gesture_egru.npz"


def load_default() -> GestureModel:
    """The shipped checkpoint (trained on synthetic data, see docs/gesture.md)."""
    return GestureModel.load(DEFAULT_CHECKPOINT)
