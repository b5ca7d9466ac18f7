"""The int8 EGRU slice (``--precision int8``): the EGRU slice program with int8 CSR weights and
fixed-point accumulation on the Cortex-M4F, the numerics of ``models.egru.quant``.

It is the EGRU core kind (``firmware_py.kinds.egru_slice``: same keys, same handlers, same send
schedule, same analytic counts) with three things swapped, so that no compiler stage or engine
branches on the precision:

- **SRAM** (``int8_slice_regions``): int8 weight values (1 byte + the column index per nonzero
  instead of 4 + index), per unit 6 int32 Q12 biases and 6 int32 requantising multipliers, Q14
  int16 θ and state, 2 x 6 int32 accumulators, and the 2 KiB sigmoid table.
- **Cycles**: the cost model's int8 mixes (``firmware_py.cost._int8_mixes``: integer MLA per
  nonzero, SMULL requantisation and table lookups per unit, no float exp).
- **Core** (``EGRUInt8Core``): per event ``acc += x_q * w_q`` in integers (x_q the Q14 event or
  the int8 input code), at the tick ``models.egru.quant``'s ``requant`` and ``cell_update`` —
  the very functions the integer reference runs, so the two agree bit for bit.

On the wire an event's payload stays one float32 word holding the Q14 value exactly (the slice
converts with VCVT #14 at each end), so the input source, the readout and the host are unchanged;
the layer-0 input codes are int8 integers the host writes as float32 (exact).
"""

from __future__ import annotations

import numba
import numpy as np

from firmware_py.keys import (
    INPUT_SRC,
    PARITY_BIT,
    SLICE_MASK,
    SLICE_SHIFT,
    SRC_SHIFT,
    UNIT_MASK,
    egru_src,
)
from firmware_py.kinds.base import CONFIG_BYTES
from models.egru.quant import _LUT, LUT_SIZE, ONE, cell_update, requant

__all__ = ["EGRUInt8Core", "build_int8_cores", "int8_slice_regions", "LUT_BYTES", "mla_regions",
           "mla_fits_accumulators", "MLA_MODES", "MLA_ACC_LIMIT"]

LUT_BYTES = LUT_SIZE * 2  # the int16 sigmoid table


def int8_slice_regions(n_in: int, hidden: int, n_units: int, nnz_w: int, nnz_r: int,
                       n_src_in: int, n_src_rec: int, index_bytes: int) -> dict[str, int]:
    """Raw (unaligned) SRAM regions of an int8 EGRU slice."""
    from firmware_py.kinds.egru_slice import rowptr_bytes

    return {
        "w_rowptr": (n_in + 1) * rowptr_bytes(nnz_w),
        "w_cols": nnz_w * index_bytes,
        "w_vals": nnz_w,  # int8
        "r_rowptr": (hidden + 1) * rowptr_bytes(nnz_r),
        "r_cols": nnz_r * index_bytes,
        "r_vals": nnz_r,
        "bias": 6 * n_units * 4,  # Q12 int32
        "requant": 6 * n_units * 4,  # int32 multipliers (the two shifts live in the config)
        "theta": n_units * 2,  # Q14 int16
        "state": n_units * 2,
        "acc": 2 * 6 * n_units * 4,  # int32
        "sigmoid_lut": LUT_BYTES,
        "src_offsets": (n_src_in + n_src_rec + 2) * 2,
        "config": CONFIG_BYTES,
    }


# The MLA's accumulators are 24-bit (spec accelerators.mla_macs_per_cycle note, CP): a column
# goes to the MLA only if its worst-case sum of int8 products stays inside them.
MLA_ACC_LIMIT = (1 << 23) - 1
MLA_MODES = ("auto", "on", "off")


def mla_regions(n_in: int, hidden: int, n_units: int, nnz_r: int, n_src_in: int,
                n_src_rec: int, index_bytes: int) -> dict[str, int]:
    """Raw SRAM regions of a layer-0 int8 slice whose input product runs on the MLA: the W slice
    dense (n_in x 3u int8, the MLA's operand), the step's int8 input vector double-buffered by
    parity, in place of W's CSR."""
    raw = int8_slice_regions(n_in, hidden, n_units, 0, nnz_r, n_src_in, n_src_rec, index_bytes)
    for k in ("w_rowptr", "w_cols", "w_vals"):
        del raw[k]
    return {"w_dense": n_in * 3 * n_units, "x_buf": 2 * n_in} | raw


def mla_fits_accumulators(Wq_cols: np.ndarray, x_max: int = 127) -> bool:
    """Whether every column's worst-case sum over int8 inputs fits the MLA's 24-bit
    accumulators."""
    worst = np.abs(Wq_cols.astype(np.int64)).sum(axis=0) * x_max
    return bool(worst.max(initial=0) <= MLA_ACC_LIMIT)


@numba.njit(cache=True, nogil=True)
def _events_int(acc, keys, xs, tick_parity, r_src, w_off, r_off, w_conv, rp_w, cols_w, vals_w,
                rp_r, cols_r, vals_r, event_cycles, nnz_cycles, late_cycles,
                cycles_out, xbuf):  # pragma: no cover (compiled)
    """As ``egru_slice._events`` in integers: x_q = payload * conv (exact), acc += x_q * w_q."""
    n_ok = 0
    n_late = 0
    total = 0
    r_base = acc.shape[1] // 2
    for i in range(keys.shape[0]):
        k = np.int64(keys[i])
        src = (k >> SRC_SHIFT) & 0xFF
        sl = (k >> SLICE_SHIFT) & SLICE_MASK
        p = (k >> PARITY_BIT) & 1
        local = k & UNIT_MASK
        if p != tick_parity:
            n_late += 1
            cycles_out[i] = late_cycles
            continue
        if src == r_src:
            x = np.int64(np.rint(np.float64(xs[i]) * ONE))
            row = r_off[min(sl, r_off.shape[0] - 1)] + local
            a, b = rp_r[row], rp_r[row + 1]
            for j in range(a, b):
                acc[p, r_base + cols_r[j]] += x * vals_r[j]
        else:
            x = np.int64(np.rint(np.float64(xs[i]) * w_conv))
            row = w_off[min(sl, w_off.shape[0] - 1)] + local
            if xbuf.shape[1] > 0:  # MLA slice: store the input, the product runs at the tick
                xbuf[p, row] = x
            a, b = rp_w[row], rp_w[row + 1]
            for j in range(a, b):
                acc[p, cols_w[j]] += x * vals_w[j]
        cycles_out[i] = event_cycles + nnz_cycles * (b - a)
        total += b - a
        n_ok += 1
    return n_ok, n_late, total


class EGRUInt8Core:
    """One int8 slice: its units' int8 CSR rows, multipliers, Q12 biases, Q14 θ and state."""

    def __init__(self, W_local, R_local, q, cols: np.ndarray, units: np.ndarray, w_src: int,
                 r_src: int, w_off: np.ndarray, r_off: np.ndarray, W_dense=None,
                 mla_cycles: int = 0):
        """``W_dense`` (n_in, 3u) int8: the slice's input product runs on the MLA (then
        ``W_local`` holds no nonzeros; ``mla_cycles`` per product)."""
        self.W, self.R = W_local, R_local
        self.Wd = None if W_dense is None else np.asarray(W_dense, np.int64)
        n_x = 0 if W_dense is None else self.Wd.shape[0]
        self.xbuf = np.zeros((2, n_x), np.int64)
        self.mla_macs = 0 if W_dense is None else int(self.Wd.size)
        self.mla_cycles = int(mla_cycles) if W_dense is not None else 0
        self.wv = W_local.vals.astype(np.int64)  # exact: the int8 codes held as float32
        self.rv = R_local.vals.astype(np.int64)
        self.u = int(units.size)
        self.m_w, self.sh_w = q.m_w[cols].astype(np.int64), int(q.sh_w)
        self.m_r, self.sh_r = q.m_r[cols].astype(np.int64), int(q.sh_r)
        self.b_x, self.b_r = q.b_x[cols].astype(np.int64), q.b_r[cols].astype(np.int64)
        self.theta = q.theta[units].astype(np.int64)
        self.w_src, self.r_src = int(w_src), int(r_src)
        self.w_conv = 1.0 if self.w_src == INPUT_SRC else float(ONE)
        self.w_off = np.asarray(w_off, np.int64)
        self.r_off = np.asarray(r_off, np.int64)
        self.acc = np.zeros((2, 6 * self.u), np.int64)
        self.c = np.zeros(self.u, np.int64)
        self._y = np.zeros(self.u, np.int64)

    def consumes(self) -> set[int]:
        return {self.w_src, self.r_src}

    def on_events(self, keys, xs, tick_parity: int, event_cycles: int, nnz_cycles: int,
                  late_cycles: int):
        cycles = np.empty(keys.shape[0], np.int64)
        ok, late, nnz = _events_int(
            self.acc, np.asarray(keys, np.uint32), np.asarray(xs, np.float32), int(tick_parity),
            self.r_src, self.w_off, self.r_off, self.w_conv, self.W.rowptr,
            self.W.cols.astype(np.int64), self.wv, self.R.rowptr, self.R.cols.astype(np.int64),
            self.rv, int(event_cycles), int(nnz_cycles), int(late_cycles), cycles, self.xbuf)
        return cycles, ok, late, nnz

    def event_cycles(self, keys, tick_parity: int, event_cycles: int, nnz_cycles: int,
                     late_cycles: int) -> np.ndarray:
        """The cycles (n,) ``on_events`` would return for a batch (nothing is applied): the
        float slice's rule (``egru_slice.decode_events``) on the same row pointers, as
        ``_events_int`` charges the same per-event and per-nonzero cycles."""
        from firmware_py.kinds.egru_slice import decode_events

        return decode_events(keys, tick_parity, self.r_src, self.w_off, self.r_off,
                             self.W.rowptr, self.R.rowptr, event_cycles, nnz_cycles,
                             late_cycles)[0]

    def update(self, parity: int):
        """Close the step in accumulator ``parity``: (fired local idx, y as float32 Q14 values)."""
        u = self.u
        a = self.acc[parity]
        if self.Wd is not None:  # the MLA's product (exact integers: the CSR sum's value)
            a[:3 * u] += self.xbuf[parity] @ self.Wd
            self.xbuf[parity] = 0
        wx = requant(np.ascontiguousarray(a[:3 * u]), self.m_w, self.sh_w, self.b_x)
        rh = requant(np.ascontiguousarray(a[3 * u:]), self.m_r, self.sh_r, self.b_r)
        cell_update(wx, rh, self.c, self.theta, _LUT, self._y)
        a[:] = 0
        fired = np.flatnonzero(self._y)
        return fired, (self._y[fired] / ONE).astype(np.float32)


def build_int8_cores(mapping, network, cost=None) -> dict[str, EGRUInt8Core]:
    """slice id -> EGRUInt8Core for every EGRU slice of an int8 network (``network.quant``)."""
    from firmware_py.kinds.egru_slice import (
        _slice_order,
        _split_by_slice,
        gate_cols,
        source_row_order,
    )

    qs = getattr(network, "quant", None)
    if qs is None:
        from s2sim.errors import CompileError

        raise CompileError(f"network {network.name!r} is float32: --precision int8 needs a "
                           "quantised network (s2sim.compiler.precision.quantised_network)")
    cores: dict[str, EGRUInt8Core] = {}
    for i, q in enumerate(qs.layers):
        H = q.hidden
        w_order, w_off, w_src = source_row_order(mapping, i)
        r_order, r_off = _slice_order(mapping, i)
        slices = mapping.layer_slices(i)
        slice_of_col = np.empty(3 * H, np.int64)
        local_of_col = np.empty(3 * H, np.int64)
        cols_of = []
        for k, s in enumerate(slices):
            cols = gate_cols(s.units, H)
            slice_of_col[cols] = k
            local_of_col[cols] = np.arange(cols.size)
            cols_of.append(cols)
        Ws = _split_by_slice(q.Wq.astype(np.float32), w_order, slice_of_col, local_of_col,
                             len(slices))
        Rs = _split_by_slice(q.Rq.astype(np.float32), r_order, slice_of_col, local_of_col,
                             len(slices))
        for k, s in enumerate(slices):
            W_dense, W_local, mla_c = None, Ws[k], 0
            if "w_dense" in s.regions:  # the input product on the MLA (s2sim.compiler.mla)
                W_dense = q.Wq[w_order][:, cols_of[k]]
                W_local = _empty_csr(W_local)
                mla_c = cost.mla_matvec_cycles(W_dense.size) if cost is not None else 0
            cores[s.id] = EGRUInt8Core(W_local, Rs[k], q, cols_of[k],
                                       np.asarray(s.units, np.int64), w_src=w_src,
                                       r_src=egru_src(i), w_off=w_off[:-1], r_off=r_off[:-1],
                                       W_dense=W_dense, mla_cycles=mla_c)
    return cores


def _empty_csr(csr):
    """A CSR of the same rows with no nonzeros (an MLA slice stores W densely instead)."""
    from firmware_py.kinds.egru_slice import CSR

    return CSR(rowptr=np.zeros_like(csr.rowptr), cols=csr.cols[:0], vals=csr.vals[:0])
