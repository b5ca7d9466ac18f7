"""The computations of the PE programs, apart from the runtime API (so the compiler, the analytic
engine and the tests can drive them too). Each core keeps the data one PE holds in its SRAM and
returns, for every piece of work, what it did — the programs (``egru_slice.py``,
``input_source.py``, ``readout.py``) turn that into cycles via ``firmware_py.cost`` and into
runtime calls.

Numerics are float32 throughout, in the operation order of ``models.egru.reference`` (the oracle):
per event ``acc += x * w`` (VMLA: rounded product, rounded sum) in arrival order; at the tick
``wx = acc_x + b_x``, ``rh = acc_r + b_r`` and then exactly ``EGRULayer.cell``'s sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from firmware_py.keys import PARITY_BIT, SLICE_SHIFT, SRC_SHIFT, UNIT_MASK
from models.egru.reference import sigmoid

_F32 = np.float32


@numba.njit(cache=True, nogil=True)
def _accumulate(acc, par, is_r, rows, xs, rp_w, cols_w, vals_w, rp_r, cols_r, vals_r, r_off,
                nnz_out):  # pragma: no cover - compiled
    for i in range(rows.shape[0]):
        row = rows[i]
        p = par[i]
        x = xs[i]
        if is_r[i]:
            a, b = rp_r[row], rp_r[row + 1]
            for j in range(a, b):
                c = r_off + cols_r[j]
                acc[p, c] = np.float32(acc[p, c] + np.float32(x * vals_r[j]))
        else:
            a, b = rp_w[row], rp_w[row + 1]
            for j in range(a, b):
                c = cols_w[j]
                acc[p, c] = np.float32(acc[p, c] + np.float32(x * vals_w[j]))
        nnz_out[i] = b - a


@numba.njit(cache=True, nogil=True)
def _events(acc, keys, xs, tick_parity, r_src, w_off, r_off, rp_w, cols_w, vals_w, rp_r, cols_r,
            vals_r, event_cycles, nnz_cycles, late_cycles, cycles_out):  # pragma: no cover
    """Decode + late check + accumulate a batch of events in arrival order (one call per batch).

    Returns (events applied, late events, weights touched); per-event cycles in cycles_out."""
    n_ok = 0
    n_late = 0
    total = 0
    r_base = acc.shape[1] // 2
    for i in range(keys.shape[0]):
        k = np.int64(keys[i])
        src = (k >> SRC_SHIFT) & 0xFF
        sl = (k >> SLICE_SHIFT) & 0xFF
        p = (k >> PARITY_BIT) & 1
        local = k & UNIT_MASK
        if p != tick_parity:
            n_late += 1
            cycles_out[i] = late_cycles
            continue
        x = xs[i]
        if src == r_src:
            row = r_off[min(sl, r_off.shape[0] - 1)] + local
            a, b = rp_r[row], rp_r[row + 1]
            for j in range(a, b):
                c = r_base + cols_r[j]
                acc[p, c] = np.float32(acc[p, c] + np.float32(x * vals_r[j]))
        else:
            row = w_off[min(sl, w_off.shape[0] - 1)] + local
            a, b = rp_w[row], rp_w[row + 1]
            for j in range(a, b):
                c = cols_w[j]
                acc[p, c] = np.float32(acc[p, c] + np.float32(x * vals_w[j]))
        cycles_out[i] = event_cycles + nnz_cycles * (b - a)
        total += b - a
        n_ok += 1
    return n_ok, n_late, total


def decode(keys: np.ndarray):
    k = np.asarray(keys, np.uint32).astype(np.int64)
    return (k >> SRC_SHIFT) & 0xFF, (k >> SLICE_SHIFT) & 0xFF, (k >> PARITY_BIT) & 1, k & UNIT_MASK


def encode(base: int, local: np.ndarray, parity: int) -> np.ndarray:
    return (np.asarray(local, np.int64) | base | ((parity & 1) << PARITY_BIT)).astype(np.uint32)


@dataclass
class CSR:
    """Rows = inputs (in source-slice order), columns = the slice's local gate columns."""

    rowptr: np.ndarray  # (n_rows + 1,) int64 (stored as uint16/uint32 on the PE)
    cols: np.ndarray  # (nnz,) int32 (uint16 on the PE)
    vals: np.ndarray  # (nnz,) float32

    @classmethod
    def from_dense(cls, M: np.ndarray) -> CSR:
        nz_r, nz_c = np.nonzero(M)
        rowptr = np.zeros(M.shape[0] + 1, np.int64)
        np.cumsum(np.bincount(nz_r, minlength=M.shape[0]), out=rowptr[1:])
        return cls(rowptr, nz_c.astype(np.int32), M[nz_r, nz_c].astype(_F32))

    @property
    def nnz(self) -> int:
        return int(self.vals.size)

    def row_nnz(self) -> np.ndarray:
        return np.diff(self.rowptr)


class EGRUSliceCore:
    """One slice of an EGRU layer: units U, their three gates' CSR rows of W and R.

    ``w_src``/``r_src``: source ids of the input layer and of this layer; ``w_off``/``r_off``:
    row offset of each source slice (rows are ordered source slice by source slice).
    """

    def __init__(self, W_local: CSR, R_local: CSR, b_x, b_r, theta, w_src: int, r_src: int,
                 w_off: np.ndarray, r_off: np.ndarray):
        self.W, self.R = W_local, R_local
        self.u = int(theta.size)
        self.b_x = np.asarray(b_x, _F32)
        self.b_r = np.asarray(b_r, _F32)
        self.theta = np.asarray(theta, _F32)
        self.w_src, self.r_src = int(w_src), int(r_src)
        self.w_off = np.asarray(w_off, np.int64)
        self.r_off = np.asarray(r_off, np.int64)
        self.acc = np.zeros((2, 6 * self.u), _F32)  # [parity][wx z r g | rh z r g]
        self.c = np.zeros(self.u, _F32)

    def consumes(self) -> set[int]:
        return {self.w_src, self.r_src}

    def accumulate(self, src, sl, parity, local, xs) -> np.ndarray:
        """Apply a batch of events in order; returns nnz (weights touched) per event."""
        is_r = src == self.r_src
        offs = np.where(is_r, self.r_off[np.minimum(sl, self.r_off.size - 1)],
                        self.w_off[np.minimum(sl, self.w_off.size - 1)])
        rows = (offs + local).astype(np.int64)
        nnz = np.empty(rows.size, np.int64)
        _accumulate(self.acc, parity.astype(np.int64), is_r, rows, np.asarray(xs, _F32),
                    self.W.rowptr, self.W.cols, self.W.vals, self.R.rowptr, self.R.cols,
                    self.R.vals, 3 * self.u, nnz)
        return nnz

    def on_events(self, keys, xs, tick_parity: int, event_cycles: int, nnz_cycles: int,
                  late_cycles: int):
        """The packet handler's work on a batch: returns (cycles (n,), applied, late, nnz)."""
        cycles = np.empty(keys.shape[0], np.int64)
        ok, late, nnz = _events(self.acc, np.asarray(keys, np.uint32), np.asarray(xs, _F32),
                                int(tick_parity), self.r_src, self.w_off, self.r_off,
                                self.W.rowptr, self.W.cols, self.W.vals, self.R.rowptr,
                                self.R.cols, self.R.vals, int(event_cycles), int(nnz_cycles),
                                int(late_cycles), cycles)
        return cycles, ok, late, nnz

    def update(self, parity: int):
        """Close the step held in accumulator ``parity``: returns (fired local idx, y values)."""
        u = self.u
        a = self.acc[parity]
        wx = a[: 3 * u] + self.b_x
        rh = a[3 * u:] + self.b_r
        z = sigmoid(wx[:u] + rh[:u])
        r = sigmoid(wx[u:2 * u] + rh[u:2 * u])
        g = np.tanh(wx[2 * u:] + r * rh[2 * u:]).astype(_F32)
        c = z * self.c + (_F32(1) - z) * g
        o = c - self.theta > 0
        self.c = (c - np.where(o, self.theta, _F32(0))).astype(_F32)
        a[:] = 0
        fired = np.flatnonzero(o)
        return fired, c[fired].astype(_F32)


class InputCore:
    """Collects a step's input values from the host (double-buffered by step parity)."""

    def __init__(self, n: int):
        self.frame = np.zeros((2, n), _F32)

    def receive(self, parity, elem, xs) -> None:
        # frame[p, e] += x, in arrival order (several host packets may hit one element)
        np.add.at(self.frame, (parity, elem), np.asarray(xs, _F32))

    def emit(self, parity: int):
        f = self.frame[parity]
        nz = np.flatnonzero(f)
        vals = f[nz].copy()
        f[:] = 0
        return nz, vals


class ReadoutCore:
    """Collects the last layer's events per step; optional on-chip trace + linear readout."""

    DECAY = _F32(0.9)

    def __init__(self, n_in: int, unit_of: dict[int, np.ndarray], weights=None, bias=None,
                 trace: bool = False):
        self.n_in = n_in
        self.unit_of = unit_of  # slice index -> global units of that last-layer slice
        self.weights = None if weights is None else np.asarray(weights, _F32)
        self.bias = None if bias is None else np.asarray(bias, _F32)
        self.trace = bool(trace)
        self.tr = np.zeros(n_in, _F32)
        self.events: list[list[tuple[np.ndarray, np.ndarray]]] = [[], []]

    def receive(self, sl, parity, local, xs) -> None:
        units = np.empty(sl.size, np.int64)
        for s in np.unique(sl):
            m = sl == s
            units[m] = self.unit_of[int(s)][local[m]]
        for p in (0, 1):
            m = parity == p
            if m.any():
                self.events[p].append((units[m], np.asarray(xs, _F32)[m]))

    def close(self, parity: int):
        """(units, values, outputs or None) of the step held under ``parity``."""
        evs = self.events[parity]
        self.events[parity] = []
        if evs:
            units = np.concatenate([e[0] for e in evs])
            vals = np.concatenate([e[1] for e in evs])
        else:
            units, vals = np.zeros(0, np.int64), np.zeros(0, _F32)
        out = None
        if self.weights is not None:
            y = np.zeros(self.n_in, _F32)
            y[units] = vals
            if self.trace:
                self.tr = self.DECAY * self.tr + (_F32(1) - self.DECAY) * y
                out = (self.weights @ self.tr + self.bias).astype(_F32)
            else:
                out = (self.weights @ y + self.bias).astype(_F32)
        return units, vals, out
