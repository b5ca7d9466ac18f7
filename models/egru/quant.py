"""Quantised EGRU (int8 weights, fixed-point state): the oracle of the int8 deployment.

Every number the int8 firmware holds or computes is an integer, and this module computes exactly
those integers (numba, in int64 where the PE uses a 32-bit register whose range the quantiser
checks), so the DES's int8 programs and this reference agree bit for bit — integer sums do not
depend on the order events arrive in, unlike float32 sums.

**Formats** (the choices, and why):

- Weights W, R: **int8** per output (gate) column, symmetric, scale ``s_c = max|M[:, c]| / 127``.
  Per output column because the CSR rows are inputs: an event's row is accumulated into many
  columns, and a column's scale can be applied once at the tick (one requantising multiply), while a
  per-input-row scale would cost a multiply per event and nonzero. Pruned zeros stay zeros.
- State c, graded events y, gate values z, r, g and thresholds θ: **int16 Q1.14** (value =
  q / 2**14). c is a convex mix of c_prev and g = tanh(.) in [-1, 1] and the reset subtracts
  θ ∈ [0, 1] only from c > θ, so |c| ≤ 1 always: Q1.14 keeps 14 fraction bits (6.1e-5 steps,
  finer than the float model's firing margin at these sizes), where int8 would step by 1/127 and
  move events. The event payload is the int16 y (one 32-bit payload word, as float32 today).
- Layer-0 input (the host's embedding row): **int8**, one per-tensor scale calibrated on the
  training split (``calibrate``: the 99.99th percentile of |x| over the embedded training tokens,
  clipped). int8 so that the same product can run on the MLA (int8 x int8) or on the M4F.
- Pre-activations (Wx + b_x, Rh + b_r): **int32 Q12** (value = q / 2**12). The integer
  accumulator (int32: Σ x_q · w_q) is requantised per column at the tick:
  ``pre = (acc · m_c + 2**(sh - 1)) >> sh`` (SMULL 32x32→64 and a 64-bit shift), with the int32
  multiplier ``m_c = round(s_x · s_c · 2**12 · 2**sh)`` and ``sh`` the largest shift ≤ 31 at
  which every m_c of the matrix fits 31 bits. Biases are Q12 int32.
- Gate nonlinearities: a **1,024-entry int16 lookup table** of σ over [-8, 8) (step 1/64, the
  entry nearest the pre-activation, clamped at the ends; 2 KiB per PE), tanh through the same
  table as ``tanh(a) = 2σ(2a) − 1``. A table, not the exp/log accelerator: a table lookup is 2-3
  cycles against 49 for a float exp through the driver (spec accelerators.exp_driver_cycles),
  and it stays in integers. The nearest-entry error is ≤ σ'·1/128 ≤ 0.002.
- One step (all integers, arithmetic shifts floor)::

      z, r = LUTσ(wx_zr + rh_zr) ;  a_g = wx_g + ((r · rh_g + 2**13) >> 14)
      g = 2 · LUTσ(2 a_g) − 2**14
      c = (z · c_prev + (2**14 − z) · g + 2**13) >> 14
      o = c > θ ;  y = o ? c : 0 ;  c ← c − o · θ

  Accumulator bound: |acc_c| ≤ Σ_i |w_q[i, c]| · max|x_q| must stay below 2**31 (the PE's
  register); ``quantise_layer`` checks it and refuses a layer that could overflow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from models.egru.errors import ModelError
from models.egru.reference import EGRULayer

__all__ = ["QLayer", "QStack", "quantise_layer", "quantise_stack", "calibrate_input_scale",
           "sigmoid_lut", "FRAC_STATE", "FRAC_PRE", "LUT_SIZE", "LUT_STEP_SHIFT", "ONE",
           "quantise_input", "QTrace"]

FRAC_STATE = 14  # Q1.14 state, events, gates, thresholds (int16)
FRAC_PRE = 12  # Q12 pre-activations and biases (int32)
ONE = 1 << FRAC_STATE
LUT_SIZE = 1024  # entries of the sigmoid table over [-8, 8)
LUT_RANGE = 8  # the table covers [-LUT_RANGE, LUT_RANGE)
LUT_STEP_SHIFT = FRAC_PRE - 6  # Q12 pre-activation -> index: step 1/64 = 2**6 Q12 steps
LUT_OFFSET = LUT_RANGE << FRAC_PRE  # pre-activation of entry 0 is -8
INT8_MAX = 127
ACC_LIMIT = (1 << 31) - 1
MAX_SHIFT = 31
INPUT_PERCENTILE = 99.99


def sigmoid_lut() -> np.ndarray:
    """(LUT_SIZE,) int16: round(σ(-8 + i/64) · 2**14)."""
    a = -LUT_RANGE + np.arange(LUT_SIZE, dtype=np.float64) / (LUT_SIZE / (2 * LUT_RANGE))
    return np.rint(ONE / (1.0 + np.exp(-a))).astype(np.int16)


_LUT = sigmoid_lut()


def _col_scales(M: np.ndarray) -> np.ndarray:
    amax = np.abs(M).max(axis=0).astype(np.float64)
    return np.where(amax > 0, amax / INT8_MAX, 1.0)


def _multipliers(scales: np.ndarray, x_scale: float, what: str) -> tuple[np.ndarray, int]:
    """(int64 multipliers, shift) with m = round(x_scale · s_c · 2**FRAC_PRE · 2**sh) < 2**31."""
    real = scales * x_scale * (1 << FRAC_PRE)
    top = float(real.max())
    sh = MAX_SHIFT
    while sh > 0 and top * 2.0 ** sh >= ACC_LIMIT:
        sh -= 1
    if top * 2.0 ** sh >= ACC_LIMIT:
        raise ModelError(f"{what}: requantising scale {top:.3g} too large for an int32 multiplier")
    return np.rint(real * 2.0 ** sh).astype(np.int64), sh


@dataclass
class QLayer:
    """One quantised EGRU layer: int8 W, R (dense arrays holding the CSR's values), per-column
    int32 multipliers and shifts, Q12 biases, Q14 thresholds; ``x_scale`` the input's scale."""

    Wq: np.ndarray  # (n_in, 3H) int8
    Rq: np.ndarray  # (H, 3H) int8
    w_scale: np.ndarray  # (3H,) float64: real weight = Wq * w_scale
    r_scale: np.ndarray
    m_w: np.ndarray  # (3H,) int64 multipliers
    sh_w: int
    m_r: np.ndarray
    sh_r: int
    b_x: np.ndarray  # (3H,) int64 Q12
    b_r: np.ndarray
    theta: np.ndarray  # (H,) int64 Q14
    x_scale: float  # real input = x_q * x_scale

    @property
    def n_in(self) -> int:
        return int(self.Wq.shape[0])

    @property
    def hidden(self) -> int:
        return int(self.Rq.shape[0])

    def dequantised(self) -> EGRULayer:
        """The float32 layer these integers stand for (what PTQ changed the model to)."""
        f = np.float32
        return EGRULayer((self.Wq * self.w_scale).astype(f), (self.Rq * self.r_scale).astype(f),
                         (self.b_x / 2.0 ** FRAC_PRE).astype(f),
                         (self.b_r / 2.0 ** FRAC_PRE).astype(f), (self.theta / ONE).astype(f))


def quantise_layer(layer: EGRULayer, x_scale: float, x_max_q: int, what: str = "layer") -> QLayer:
    """Post-training quantisation of one layer for inputs of scale ``x_scale`` whose integers
    are at most ``x_max_q`` in magnitude (the accumulator bound is checked with it)."""
    ws, rs = _col_scales(layer.W), _col_scales(layer.R)
    Wq = np.clip(np.rint(layer.W / ws), -INT8_MAX, INT8_MAX).astype(np.int8)
    Rq = np.clip(np.rint(layer.R / rs), -INT8_MAX, INT8_MAX).astype(np.int8)
    for name, M, xm in (("W", Wq, x_max_q), ("R", Rq, ONE)):
        worst = int((np.abs(M.astype(np.int64)).sum(axis=0) * xm).max(initial=0))
        if worst > ACC_LIMIT:
            raise ModelError(f"{what}.{name}: worst-case accumulator {worst} exceeds int32 "
                             "(too many large weights in one column)")
    m_w, sh_w = _multipliers(ws, x_scale, f"{what}.W")
    m_r, sh_r = _multipliers(rs, 1.0 / ONE, f"{what}.R")
    q = float(1 << FRAC_PRE)
    return QLayer(Wq=Wq, Rq=Rq, w_scale=ws, r_scale=rs, m_w=m_w, sh_w=sh_w, m_r=m_r, sh_r=sh_r,
                  b_x=np.rint(layer.b_x.astype(np.float64) * q).astype(np.int64),
                  b_r=np.rint(layer.b_r.astype(np.float64) * q).astype(np.int64),
                  theta=np.rint(layer.theta.astype(np.float64) * ONE).astype(np.int64),
                  x_scale=float(x_scale))


def calibrate_input_scale(xs: np.ndarray) -> float:
    """Per-tensor int8 scale of the layer-0 input from calibration vectors ``xs`` (e.g. the
    embedded training tokens): the 99.99th percentile of |x| maps to 127."""
    a = np.abs(np.asarray(xs, np.float64)).ravel()
    top = float(np.percentile(a, INPUT_PERCENTILE)) if a.size else 0.0
    return top / INT8_MAX if top > 0 else 1.0 / INT8_MAX


def quantise_input(xs: np.ndarray, x_scale: float) -> np.ndarray:
    """Float inputs -> int8 integers (round to nearest, clipped to ±127), as int64."""
    return np.clip(np.rint(np.asarray(xs, np.float64) / x_scale), -INT8_MAX,
                   INT8_MAX).astype(np.int64)


def quantise_stack(layers: list[EGRULayer], x_scale: float) -> QStack:
    """PTQ of a stack: layer 0 takes int8 inputs of ``x_scale``, the others Q14 events."""
    out = []
    for i, layer in enumerate(layers):
        xs, xm = (x_scale, INT8_MAX) if i == 0 else (1.0 / ONE, ONE)
        out.append(quantise_layer(layer, xs, xm, what=f"layer{i}"))
    return QStack(out)


# -- the integer step (one home: the DES's int8 programs call these too) ------------------------

@numba.njit(cache=True, nogil=True)
def requant(acc, m, sh, bias):  # pragma: no cover (compiled)
    """Q12 pre-activations from int accumulators: (acc · m + 2**(sh-1)) >> sh, + bias."""
    out = np.empty(acc.shape[0], np.int64)
    half = np.int64(1) << (sh - 1) if sh > 0 else np.int64(0)
    for c in range(acc.shape[0]):
        out[c] = ((acc[c] * m[c] + half) >> sh) + bias[c]
    return out


@numba.njit(cache=True, nogil=True)
def lut_sigmoid(a, lut):  # pragma: no cover (compiled)
    """Q14 σ of a Q12 pre-activation: the nearest table entry, clamped."""
    i = (a + LUT_OFFSET + (np.int64(1) << (LUT_STEP_SHIFT - 1))) >> LUT_STEP_SHIFT
    if i < 0:
        i = 0
    elif i > LUT_SIZE - 1:
        i = LUT_SIZE - 1
    return np.int64(lut[i])


@numba.njit(cache=True, nogil=True)
def cell_update(wx, rh, c, theta, lut, y_out):  # pragma: no cover (compiled)
    """The gate and state update of one step (in place on c); y_out gets the events (Q14)."""
    H = c.shape[0]
    half = np.int64(1) << (FRAC_STATE - 1)
    for u in range(H):
        z = lut_sigmoid(wx[u] + rh[u], lut)
        r = lut_sigmoid(wx[H + u] + rh[H + u], lut)
        ag = wx[2 * H + u] + ((r * rh[2 * H + u] + half) >> FRAC_STATE)
        g = 2 * lut_sigmoid(2 * ag, lut) - ONE
        cc = (z * c[u] + (ONE - z) * g + half) >> FRAC_STATE
        if cc > theta[u]:
            y_out[u] = cc
            c[u] = cc - theta[u]
        else:
            y_out[u] = 0
            c[u] = cc


@numba.njit(cache=True, nogil=True)
def _layer_run(xq, rp_w, cols_w, vals_w, rp_r, cols_r, vals_r, m_w, sh_w, m_r, sh_r, b_x, b_r,
               theta, lut, ys, cs):  # pragma: no cover (compiled)
    T = xq.shape[0]
    H = theta.shape[0]
    c = np.zeros(H, np.int64)
    y = np.zeros(H, np.int64)
    acc_w = np.zeros(3 * H, np.int64)
    acc_r = np.zeros(3 * H, np.int64)
    for t in range(T):
        acc_w[:] = 0
        acc_r[:] = 0
        for i in range(xq.shape[1]):
            x = xq[t, i]
            if x != 0:
                for j in range(rp_w[i], rp_w[i + 1]):
                    acc_w[cols_w[j]] += x * vals_w[j]
        for i in range(H):
            x = y[i]
            if x != 0:
                for j in range(rp_r[i], rp_r[i + 1]):
                    acc_r[cols_r[j]] += x * vals_r[j]
        wx = requant(acc_w, m_w, sh_w, b_x)
        rh = requant(acc_r, m_r, sh_r, b_r)
        cell_update(wx, rh, c, theta, lut, y)
        ys[t] = y
        cs[t] = c


def _csr(M: np.ndarray):
    r, c = np.nonzero(M)
    rp = np.zeros(M.shape[0] + 1, np.int64)
    np.cumsum(np.bincount(r, minlength=M.shape[0]), out=rp[1:])
    return rp, c.astype(np.int64), M[r, c].astype(np.int64)


@dataclass
class QTrace:
    """Integer outputs per layer: ys (T, H) Q14 events, cs (T, H) Q14 states."""

    ys: list[np.ndarray]
    cs: list[np.ndarray]

    def real_ys(self) -> list[np.ndarray]:
        return [(y / ONE).astype(np.float32) for y in self.ys]

    def activity(self) -> list[float]:
        return [float(np.count_nonzero(y)) / y.size if y.size else 0.0 for y in self.ys]


class QStack:
    """Quantised layers in sequence; ``run(xq)`` on int8 layer-0 inputs (T, n_in)."""

    def __init__(self, layers: list[QLayer]):
        if not layers:
            raise ModelError("QStack needs at least one layer")
        self.layers = list(layers)
        self._csr = [(_csr(q.Wq), _csr(q.Rq)) for q in self.layers]

    @property
    def x_scale(self) -> float:
        return self.layers[0].x_scale

    def run(self, xq: np.ndarray) -> QTrace:
        inp = np.ascontiguousarray(xq, np.int64)
        if inp.ndim != 2 or inp.shape[1] != self.layers[0].n_in:
            raise ModelError(f"quantised EGRU input has shape {inp.shape}, expected "
                             f"(T, {self.layers[0].n_in})")
        ys, cs = [], []
        for q, ((rw, cw, vw), (rr, cr, vr)) in zip(self.layers, self._csr, strict=True):
            y = np.zeros((inp.shape[0], q.hidden), np.int64)
            c = np.zeros_like(y)
            _layer_run(inp, rw, cw, vw, rr, cr, vr, q.m_w, q.sh_w, q.m_r, q.sh_r, q.b_x, q.b_r,
                       q.theta, _LUT, y, c)
            ys.append(y)
            cs.append(c)
            inp = y
        return QTrace(ys, cs)

    def run_float(self, xs: np.ndarray) -> QTrace:
        """``run`` on float inputs (quantised with the stack's input scale)."""
        return self.run(quantise_input(xs, self.x_scale))
