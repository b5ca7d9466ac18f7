"""EGRU slice: one PE's share of an EGRU layer — its units U and their three gates' CSR rows.

Everything about this core kind lives here (``firmware_py.kinds.base`` says what a kind holds):

- **SRAM** (``slice_regions``): CSR rows of W and R (rows = inputs in source-slice order,
  columns = the slice's 3|U| local gate columns), biases, thresholds, state, two parity
  accumulators, the slice-offset table and the program constants.
- **Cycle estimate** (``fixed_costs`` + ``unit_costs``): linear in the units a slice holds, at an
  expected activity; the partitioner sizes slices with it, from the one cost model
  (``firmware_py.cost``).
- **Keys**: each slice sends with ``key_base(egru_src(layer), slice index)``; receivers decode
  source, source slice, parity and local unit (``firmware_py.keys``).
- **DES program** (``EGRUSliceProgram``): on each received event (a batch of packets) look up the
  event's CSR row and accumulate it into the gate pre-activations of the step the packet belongs
  to (the key's parity bit); on each tick k of its window close the step of tick k-1, apply the
  gate nonlinearities, update the state, threshold, reset, and send one multicast packet per event
  with its value (payload float32) at this slice's time of the send schedule, from a user event.
  A packet whose parity says it belongs to a step this PE has already closed is *late*: counted
  (``late_packets``) and dropped, so the engine's oracle comparison shows its effect.
- **Analytic counts** (``EGRUSliceKind.book_counts``): the same handler work, counted from the
  oracle's events.

Numerics are float32 throughout, in the operation order of ``models.egru.reference`` (the oracle):
per event ``acc += x * w`` (VMLA: rounded product, rounded sum) in arrival order; at the tick
``wx = acc_x + b_x``, ``rh = acc_r + b_r`` and then exactly ``EGRULayer.cell``'s sequence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from firmware_py.cost import CostModel
from firmware_py.keys import (
    INPUT_SRC,
    PARITY_BIT,
    SLICE_MASK,
    SLICE_SHIFT,
    SRC_SHIFT,
    UNIT_MASK,
    egru_src,
)
from firmware_py.keys import make_keys as encode
from firmware_py.kinds.base import CONFIG_BYTES, AnalyticContext, BuildContext, CoreKind, aligned
from firmware_py.schedule import delay_until
from models.egru.reference import (  # the wavefront's cell kernels (see _cell_pre)
    CSRMatrix,
    _wave_candidate,
    _wave_gates_pre,
    _wave_update,
)
from models.egru.scatter import prefetch, row_axpy_scalar
from s2sim.hw.runtime import Program

__all__ = ["CSR", "EGRUSliceCore", "EGRUSliceProgram", "EGRUSliceKind", "slice_regions",
           "fixed_costs", "unit_costs", "rowptr_bytes", "source_row_order", "build_cores",
           "RESERVED_SRC_SLICES"]

_F32 = np.float32

# Slice-offset table entries reserved per source while sizing (the real table is sized once the
# partition is known: ``slice_regions``).
RESERVED_SRC_SLICES = 64
# Regions of a slice (``slice_regions``): each may lose up to align - 1 bytes to alignment.
N_REGIONS = 12
# Bytes each unit adds besides its weights: biases (6), θ, state, 2 x 6 accumulators, float32.
UNIT_STATE_BYTES = (6 + 1 + 1 + 12) * 4
# Bytes of a stored weight's value (float32); its column index takes ``index_bytes`` more
# (uint16 by default: 3 x units of a slice < 65,536; uint32 with index_bits=32).
VALUE_BYTES = 4
INDEX_BITS = (16, 32)
# --precision int8 (``firmware_py.kinds.egru_int8``): int8 weight values; per unit 6 Q12 int32
# biases, 6 int32 requantising multipliers, Q14 int16 θ and c, 2 x 6 int32 accumulators; the
# 1,024-entry int16 sigmoid table once per slice (two more regions: multipliers, table).
INT8_VALUE_BYTES = 1
INT8_UNIT_STATE_BYTES = (6 + 6 + 2 * 6) * 4 + 2 * 2
INT8_EXTRA_REGIONS = 2


def value_bytes(precision: str) -> int:
    return INT8_VALUE_BYTES if precision == "int8" else VALUE_BYTES


# -- SRAM and cycle estimate --------------------------------------------------------------------

def rowptr_bytes(nnz: int) -> int:
    """Row pointers are uint16 whenever the slice holds at most 65,535 nonzeros."""
    return 2 if nnz <= 0xFFFF else 4


def slice_regions(n_in: int, hidden: int, n_units: int, nnz_w: int, nnz_r: int,
                  n_src_in: int, n_src_rec: int, align: int,
                  index_bytes: int = 2, precision: str = "fp32") -> dict[str, int]:
    """SRAM regions (name -> bytes, aligned) of an EGRU slice program."""
    if precision == "int8":
        from firmware_py.kinds.egru_int8 import int8_slice_regions

        return aligned(int8_slice_regions(n_in, hidden, n_units, nnz_w, nnz_r, n_src_in,
                                          n_src_rec, index_bytes), align)
    raw = {
        "w_rowptr": (n_in + 1) * rowptr_bytes(nnz_w),
        "w_cols": nnz_w * index_bytes,  # local gate column
        "w_vals": nnz_w * VALUE_BYTES,  # float32
        "r_rowptr": (hidden + 1) * rowptr_bytes(nnz_r),
        "r_cols": nnz_r * index_bytes,
        "r_vals": nnz_r * VALUE_BYTES,
        "bias": 6 * n_units * 4,  # b_x and b_r for z, r, g
        "theta": n_units * 4,
        "state": n_units * 4,  # c
        "acc": 2 * 6 * n_units * 4,  # two parities x (Wx, Rh) x 3 gates, float32
        "src_offsets": (n_src_in + n_src_rec + 2) * 2,  # uint16 row offset per source slice
        "config": CONFIG_BYTES,
    }
    return aligned(raw, align)


def fixed_costs(cm: CostModel, n_in: int, hidden: int, in_activity: float, activity: float,
                align: int, rp_w: int, rp_r: int, n_src_in: int = RESERVED_SRC_SLICES,
                n_src_rec: int = RESERVED_SRC_SLICES) -> tuple[int, int]:
    """(bytes, cycles per step) of a slice that do not depend on its units: row pointers of every
    input, the offset table (reserved for ``n_src_in`` + ``n_src_rec`` source slices),
    constants, alignment; the tick and the expected events' fixed handler cost."""
    fixed_bytes = ((n_in + 1) * rp_w + (hidden + 1) * rp_r
                   + (n_src_in + n_src_rec + 2) * 2 + CONFIG_BYTES + N_REGIONS * (align - 1))
    if cm.precision == "int8":
        from firmware_py.kinds.egru_int8 import LUT_BYTES

        fixed_bytes += LUT_BYTES + INT8_EXTRA_REGIONS * (align - 1)
    ev = cm.c("slice_event") + cm.irq_cycles
    fixed_cycles = (cm.c("slice_tick") + int(np.ceil(in_activity * n_in)) * ev
                    + int(np.ceil(activity * hidden)) * ev)
    return fixed_bytes, fixed_cycles


def unit_costs(cm: CostModel, nnz_w_per_unit: np.ndarray, nnz_r_per_unit: np.ndarray,
               in_activity: float, activity: float) -> tuple[np.ndarray, np.ndarray]:
    """(bytes, expected cycles per step) each unit adds to a slice (the cost model's index
    width)."""
    per_nnz = value_bytes(cm.precision) + cm.index_bytes
    state = INT8_UNIT_STATE_BYTES if cm.precision == "int8" else UNIT_STATE_BYTES
    unit_bytes = per_nnz * (nnz_w_per_unit + nnz_r_per_unit) + state
    unit_cycles = (cm.c("slice_unit") + activity * cm.c("slice_fire")
                   + cm.c("slice_nnz") * (in_activity * nnz_w_per_unit
                                          + activity * nnz_r_per_unit))
    return unit_bytes.astype(np.int64), unit_cycles


def mla_macs(s) -> int:
    """MLA MACs per step of a slice (its dense input product; 0 without the MLA)."""
    return len(s.units) * 3 * s.n_in if "w_dense" in s.regions else 0


def mla_tick_cycles(s, cm: CostModel) -> int:
    """Tick cycles the MLA's input product adds to a slice (0 without the MLA)."""
    macs = mla_macs(s)
    return cm.mla_matvec_cycles(macs) if macs else 0


def exp_calls_per_unit(cm: CostModel) -> int:
    """Float exps per unit and tick: 3 (z, r, g) in float32, none in int8 (a table)."""
    return 0 if cm.precision == "int8" else 3


def gate_cols(units: np.ndarray, hidden: int) -> np.ndarray:
    """Columns of the [z | r | g] gate blocks that belong to ``units``."""
    units = np.asarray(units, np.int64)
    return np.concatenate([units, hidden + units, 2 * hidden + units])


# -- the core: the data one PE holds and the work it does -------------------------------------

@numba.njit(cache=True, nogil=True)
def _decode(keys, tick_parity, r_src, w_off, r_off, rp_w, rp_r, event_cycles, nnz_cycles,
            late_cycles, cycles_out, lo, hi, rec):  # pragma: no cover (compiled)
    """Decode + late check of a batch of events: each event's nonzeros [lo, hi) of its matrix
    (lo = -1: late), from R (``rec``: this layer's units) or W (the layer below), and the
    cycles its handling costs. Returns (events to apply, late events, weights touched).

    The loads of the row pointers are independent of one another, so their cache misses
    overlap (a batch's rows lie scattered in the PE's ~90 KiB of weights: 8 MB for the paper
    shape's 89 PEs, beyond L2)."""
    n_ok = 0
    n_late = 0
    total = 0
    for i in range(keys.shape[0]):
        k = np.int64(keys[i])
        src = (k >> SRC_SHIFT) & 0xFF
        sl = (k >> SLICE_SHIFT) & SLICE_MASK
        local = k & UNIT_MASK
        if (k >> PARITY_BIT) & 1 != tick_parity:
            n_late += 1
            cycles_out[i] = late_cycles
            lo[i] = -1
            continue
        rec[i] = src == r_src
        if rec[i]:
            row = r_off[min(sl, r_off.shape[0] - 1)] + local
            a, b = rp_r[row], rp_r[row + 1]
        else:
            row = w_off[min(sl, w_off.shape[0] - 1)] + local
            a, b = rp_w[row], rp_w[row + 1]
        lo[i], hi[i] = a, b
        cycles_out[i] = event_cycles + nnz_cycles * (b - a)
        total += b - a
        n_ok += 1
    return n_ok, n_late, total


# events ahead whose CSR row ``_apply`` asks the caches for (a hint, no effect on results): an
# event touches only ~6 nonzeros, so its cost is mostly the latency of its row
_PREFETCH_EVENTS = 16


@numba.njit(cache=True, nogil=True)
def _apply(acc, xs, tick_parity, lo, hi, rec, cols, vals, r_base):  # pragma: no cover
    """Accumulate a decoded batch (``_decode``) in arrival order: per event and nonzero
    ``acc += x * w``, each operation rounded (the reference's row loop). ``cols``/``vals``:
    W's nonzeros then R's (``_joined``), an event of R (``rec``) ``r_base`` past its row's place
    in R, so one row loop serves both (no branch between two matrices per event)."""
    n = xs.shape[0]
    a = acc[tick_parity]  # an applied event's parity is the tick's: one row
    for i in range(n):
        ip = i + _PREFETCH_EVENTS
        if ip < n and lo[ip] >= 0:
            j = lo[ip] + (r_base if rec[ip] else 0)
            prefetch(cols, j)
            prefetch(vals, j)
        if lo[i] < 0:
            continue
        b = r_base if rec[i] else 0
        row_axpy_scalar(a, cols, vals, lo[i] + b, hi[i] + b, xs[i])


def decode_events(keys, tick_parity: int, r_src: int, w_off, r_off, rp_w, rp_r,
                  event_cycles: int, nnz_cycles: int, late_cycles: int):
    """``_decode`` of a batch: (cycles (n,), lo, hi, rec, (to apply, late, weights touched))."""
    n = keys.shape[0]
    cycles = np.empty(n, np.int64)
    lo, hi, rec = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.bool_)
    got = _decode(np.asarray(keys, np.uint32), int(tick_parity), int(r_src), w_off, r_off, rp_w,
                  rp_r, int(event_cycles), int(nnz_cycles), int(late_cycles), cycles, lo, hi,
                  rec)
    return cycles, lo, hi, rec, got


# The tick's cell update is the reference wavefront's own kernels on a one-layer layout of the
# slice's u units (models/egru/reference.py: ``_wave_gates_pre`` -> np.exp -> ``_wave_candidate``
# -> np.tanh -> ``_wave_update``, compiled around numpy's exp and tanh, whose bits numba's do not
# have): one home for ``egru_cell``'s float32 operations, bit for bit (tests check it).

@numba.njit(cache=True, nogil=True)
def _cell_pre(a, b_x, b_r, off, hid, wx, rh, v, e):  # pragma: no cover - compiled
    """The products of accumulator row ``a`` ([wx z r g | rh z r g]) plus their biases into wx
    and rh (1, 3u), then the z and r pre-activations and sigmoid's exponent (v, e)."""
    n = wx.shape[1]
    for j in range(n):
        wx[0, j] = np.float32(a[j] + b_x[j])
        rh[0, j] = np.float32(a[n + j] + b_r[j])
    _wave_gates_pre(0, 1, wx, rh, off, hid, v, e)


@numba.njit(cache=True, nogil=True)
def _cell_post(a, off, hid, theta, e, g, y, c, ys, cs):  # pragma: no cover - compiled
    """The state update and events from the gates (``_wave_update``, the state c (1, u) in
    place), accumulator row a cleared. Returns (fired local units ascending, their y): a unit
    fired iff its y is nonzero (it fires only when c > θ >= 0, and then y = c)."""
    _wave_update(0, 1, 0, 0, off, hid, theta, e, g, y, c, ys, cs)
    a[:] = 0
    fired = np.flatnonzero(y[0])
    return fired, y[0][fired]


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


def _joined(W: CSR, R: CSR, u: int) -> tuple[np.ndarray, ...]:
    """The packet handler's copy of W and R: their row pointers (32-bit), then the nonzeros of
    both in one array of columns and one of values, W's then R's, R's columns moved past W's 3u
    (the accumulator row is [wx z r g | rh z r g]); columns 16-bit where they fit, as the PE
    stores them."""
    rowptr = [m.rowptr.astype(np.int32) if m.nnz < 2**31 else m.rowptr for m in (W, R)]
    cols = np.concatenate([np.asarray(W.cols, np.int64), np.asarray(R.cols, np.int64) + 3 * u])
    top = int(cols.max()) if cols.size else 0
    vals = np.concatenate([np.asarray(W.vals, _F32), np.asarray(R.vals, _F32)])
    return (*rowptr, cols.astype(np.uint16 if top < 2**16 else np.uint32), vals)


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
        self._rp_w, self._rp_r, self._cols, self._vals = _joined(W_local, R_local, self.u)
        self._decoded = None  # the batch event_cycles decoded last (see on_events)
        self.acc = np.zeros((2, 6 * self.u), _F32)  # [parity][wx z r g | rh z r g]
        self.c = np.zeros(self.u, _F32)
        # update()'s one-layer layout (off, hid) and scratch: products with biases, z and r
        # pre-activations, their gates, the candidate, the outputs
        u = self.u
        self._off, self._hid = np.zeros(1, np.int64), np.full(1, u, np.int64)
        self._wx, self._rh = np.empty((1, 3 * u), _F32), np.empty((1, 3 * u), _F32)
        self._v, self._e = np.empty((1, 2 * u), _F32), np.empty((1, 2 * u), _F32)
        self._g, self._y = np.empty((1, u), _F32), np.empty((1, u), _F32)
        self._c2 = self.c.reshape(1, u)  # a view: update() writes the state in place
        # _wave_update also writes the step into (T, B, H) outputs: views of y and c here
        self._ys, self._cs = (self._y.reshape(1, 1, u),), (self._c2.reshape(1, 1, u),)

    def consumes(self) -> set[int]:
        return {self.w_src, self.r_src}

    def on_events(self, keys, xs, tick_parity: int, event_cycles: int, nnz_cycles: int,
                  late_cycles: int):
        """The packet handler's work on a batch: returns (cycles (n,), applied, late, nnz).
        A batch that ``event_cycles`` just decoded (the same keys array, same parity) is not
        decoded again."""
        known, self._decoded = self._decoded, None
        if known is None or known[0] is not keys \
                or known[1] != (tick_parity, event_cycles, nnz_cycles, late_cycles):
            known = self._decode(keys, tick_parity, event_cycles, nnz_cycles, late_cycles)
        _, _, lo, hi, rec, cycles, got = known
        _apply(self.acc, np.asarray(xs, _F32), int(tick_parity), lo, hi, rec, self._cols,
               self._vals, self.W.nnz)
        return (cycles, *got)

    def event_cycles(self, keys, tick_parity: int, event_cycles: int, nnz_cycles: int,
                     late_cycles: int) -> np.ndarray:
        """The cycles (n,) ``on_events`` would return for a batch (nothing is applied); the
        decoded batch is kept for the ``on_events`` call that follows on the same keys."""
        self._decoded = self._decode(keys, tick_parity, event_cycles, nnz_cycles, late_cycles)
        return self._decoded[5]

    def _decode(self, keys, tick_parity, event_cycles, nnz_cycles, late_cycles) -> tuple:
        """(keys, (parity, costs), lo, hi, rec, cycles, counts): ``decode_events`` of a batch."""
        cycles, lo, hi, rec, got = decode_events(
            keys, tick_parity, self.r_src, self.w_off, self.r_off, self._rp_w, self._rp_r,
            event_cycles, nnz_cycles, late_cycles)
        return (keys, (tick_parity, event_cycles, nnz_cycles, late_cycles), lo, hi, rec, cycles,
                got)

    def update(self, parity: int):
        """Close the step held in accumulator ``parity``: returns (fired local idx, y values).
        The cell is the reference's (``egru_cell``): the same operations in the same order,
        compiled around numpy's exp and tanh (``_cell_pre`` ...)."""
        a = self.acc[parity]
        off, hid, wx, rh, v, e, g = (self._off, self._hid, self._wx, self._rh, self._v,
                                     self._e, self._g)
        _cell_pre(a, self.b_x, self.b_r, off, hid, wx, rh, v, e)
        np.exp(e, out=e)
        _wave_candidate(0, 1, off, hid, wx, rh, v, e, g)
        np.tanh(g, out=g)
        return _cell_post(a, off, hid, self.theta, e, g, self._y, self._c2, self._ys, self._cs)


def source_row_order(mapping, layer: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Rows of layer ``layer``'s W as the PEs store them: (row order, slice offsets, src id)."""
    if layer == 0:
        n = mapping.n_in
        return np.arange(n, dtype=np.int64), np.array([0, n], np.int64), INPUT_SRC
    return _slice_order(mapping, layer - 1) + (egru_src(layer - 1),)


def _slice_order(mapping, layer: int) -> tuple[np.ndarray, np.ndarray]:
    sl = mapping.layer_slices(layer)
    order = np.concatenate([np.asarray(s.units, np.int64) for s in sl])
    offs = np.concatenate([[0], np.cumsum([len(s.units) for s in sl])]).astype(np.int64)
    return order, offs


def _split_by_slice(M, rows: np.ndarray, slice_of_col: np.ndarray, local_of_col: np.ndarray,
                    n_slices: int) -> list[CSR]:
    """Nonzeros of M's ``rows`` (in that order) grouped by the slice owning their column, as
    one CSR per slice (rows = ``rows``, columns = the slice's local gate columns), row-major
    within a slice. M is a dense matrix or its ``CSRMatrix`` (the reference's: a pass over the
    nonzeros only, no row-permuted copy of M)."""
    if not isinstance(M, CSRMatrix):
        M = CSRMatrix.from_dense(np.asarray(M, _F32))
    rows = np.asarray(rows, np.int64)
    # kept on the (immutable) CSRMatrix for the last split asked of it: every DES run of a
    # mapping asks the same one (the CSR is rebuilt, a new object, when W or R is edited); the
    # slices' CSRs are read-only to their users
    key = (rows.tobytes(), np.asarray(slice_of_col).tobytes(),
           np.asarray(local_of_col).tobytes(), int(n_slices))
    memo = M.__dict__.get("_slice_split")
    if memo is not None and memo[0] == key:
        return memo[1]
    rowptr, cols, vals, base = _split_kernel(M.rowptr, M.cols, M.vals, rows, slice_of_col,
                                             local_of_col, n_slices)
    for arr in (rowptr, cols, vals):  # (before the views: they inherit it)
        arr.flags.writeable = False
    out = [CSR(rowptr[k], cols[base[k]:base[k + 1]], vals[base[k]:base[k + 1]])
           for k in range(n_slices)]
    object.__setattr__(M, "_slice_split", (key, out))  # a cache, not a field (frozen)
    return out


@numba.njit(cache=True, nogil=True)
def _split_kernel(m_rowptr, m_cols, m_vals, rows, slice_of_col, local_of_col,
                  n_slices):  # pragma: no cover (compiled)
    """(rowptr (n_slices, n_rows + 1) int64, cols int32, vals float32, slice bases)."""
    n_rows = rows.shape[0]
    rowptr = np.zeros((n_slices, n_rows + 1), np.int64)
    for i in range(n_rows):
        r = rows[i]
        for j in range(m_rowptr[r], m_rowptr[r + 1]):
            rowptr[slice_of_col[m_cols[j]], i + 1] += 1
    base = np.zeros(n_slices + 1, np.int64)
    for k in range(n_slices):
        for i in range(n_rows):
            rowptr[k, i + 1] += rowptr[k, i]
        base[k + 1] = base[k] + rowptr[k, n_rows]
    cols = np.empty(base[n_slices], np.int32)
    vals = np.empty(base[n_slices], np.float32)
    pos = base[:-1].copy()
    for i in range(n_rows):
        r = rows[i]
        for j in range(m_rowptr[r], m_rowptr[r + 1]):  # columns ascending, as M's row
            c = m_cols[j]
            k = slice_of_col[c]
            cols[pos[k]] = local_of_col[c]
            vals[pos[k]] = m_vals[j]
            pos[k] += 1
    return rowptr, cols, vals, base


def build_cores(mapping, network, check: bool = True) -> dict[str, EGRUSliceCore]:
    """slice id -> EGRUSliceCore with its share of the weights, for every EGRU slice.
    ``check``: first check that each layer's CSR still equals W and R (False: the caller
    has just done so)."""
    cores: dict[str, EGRUSliceCore] = {}
    for i, layer in enumerate(network.layers):
        H = layer.hidden
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
        if check:
            layer.refresh(check=True)  # its CSR still W and R (edited in place: rebuilt)
        W_csr, R_csr = layer.csr
        Ws = _split_by_slice(W_csr, w_order, slice_of_col, local_of_col, len(slices))
        Rs = _split_by_slice(R_csr, r_order, slice_of_col, local_of_col, len(slices))
        for k, s in enumerate(slices):
            U = np.asarray(s.units, np.int64)
            cols = cols_of[k]
            cores[s.id] = EGRUSliceCore(
                Ws[k], Rs[k], layer.b_x[cols], layer.b_r[cols], layer.theta[U], w_src=w_src,
                r_src=egru_src(i), w_off=w_off[:-1], r_off=r_off[:-1])
    return cores


# -- the DES program ----------------------------------------------------------------------------

class EGRUSliceProgram(Program):
    name = "egru_slice"

    def __init__(self, slice_id: str, core: EGRUSliceCore, cost: CostModel,
                 regions: dict[str, int], key_base: int | None, first_tick: int, last_tick: int,
                 schedule=None):
        self.slice_id = slice_id
        self.core = core
        self.cost = cost
        self.regions = dict(regions)
        self.key_base = key_base
        self.first_tick = int(first_tick)
        self.last_tick = int(last_tick)
        self.fired_log: list[tuple[int, np.ndarray, np.ndarray]] = []  # (step, units, values)
        self.late_packets = 0
        self.max_tick_cycles = 0
        self.schedule = schedule  # firmware_py.schedule.SenderSlot or None
        self._queue = None  # (tick, fired, values, next index)
        ev, nz = cost.work("slice_event"), cost.work("slice_nnz")
        self._ev_cycles, self._nnz_cycles = ev.cycles, nz.cycles
        self._ev_rd, self._nnz_rd, self._nnz_wr = (ev.sram_read_bytes, nz.sram_read_bytes,
                                                   nz.sram_written_bytes)
        # the handlers' prices that do not change during a run, looked up once (a tick and a
        # send per step and slice: the cost model's lookups were a share of the DES run)
        u = core.u
        tick_w, unit_w = cost.work("slice_tick"), cost.work("slice_unit")
        self._mla_cycles = getattr(core, "mla_cycles", 0)
        self._mla_macs = getattr(core, "mla_macs", 0)
        self._tick_counts = dict(exp_calls=exp_calls_per_unit(cost) * u,
                                 sram_read_bytes=tick_w.sram_read_bytes
                                 + u * unit_w.sram_read_bytes)
        self._tick_written = tick_w.sram_written_bytes + u * unit_w.sram_written_bytes
        self._fire_written = cost.work("slice_fire").sram_written_bytes
        self._send = cost.work("slice_send")
        # send i of a step leaves (i + 1) * slice_send cycles into the handler (at most u sends)
        self._send_at = np.arange(1, u + 1, dtype=np.int64) * self._send.cycles
        self.unsent = 0  # events still queued when the next step's sends began

    def sram_regions(self) -> dict[str, int]:
        return dict(self.regions)

    def consumes(self) -> set[int]:
        return self.core.consumes()

    def on_start(self, pe) -> None:
        return None

    def on_packets(self, pe, keys, payloads) -> np.ndarray:
        xs = payloads[:, 0].view(np.float32)  # a strided view: the kernels read it in place
        cycles, n_ok, n_late, nnz = self.core.on_events(
            keys, xs, int(pe.tick) & 1, self._ev_cycles, self._nnz_cycles, self._ev_cycles)
        self.late_packets += n_late
        pe.count(cpu_macs=nnz, synaptic_events=nnz,
                 sram_read_bytes=self._ev_rd * (n_ok + n_late) + self._nnz_rd * nnz,
                 sram_written_bytes=self._nnz_wr * nnz)
        return cycles

    def packet_cycles(self, tick: int, keys, payloads) -> np.ndarray:
        return self.core.event_cycles(keys, tick & 1, self._ev_cycles, self._nnz_cycles,
                                      self._ev_cycles)

    def on_tick(self, pe, tick: int) -> None:
        cm = self.cost
        if not self.first_tick <= tick <= self.last_tick:
            pe.charge(cm.c("slice_tick"))  # wake, check the step window, sleep
            return
        fired, vals = self.core.update((tick - 1) & 1)
        cyc = cm.slice_tick_cycles(self.core.u, fired.size) + self._mla_cycles
        if cyc > self.max_tick_cycles:
            self.max_tick_cycles = cyc
        pe.charge(cyc)
        if self._mla_macs:
            pe.count(macs=self._mla_macs)
        pe.count(**self._tick_counts,
                 sram_written_bytes=self._tick_written + fired.size * self._fire_written)
        self.fired_log.append((tick - self.first_tick, fired, vals))
        if fired.size and self.key_base is not None:
            if self._queue is not None:
                self.unsent += self._queue[1].size - self._queue[3]
            self._queue = (tick, fired, vals, 0)
            self._arm(pe, cyc)

    def _arm(self, pe, charged: int) -> None:
        """Schedule the user event that sends the queued events at this slice's send time."""
        sch = self.schedule
        if sch is None:
            pe.user_event("send", delay_cycles=0)
            return
        target = sch.target_ps(self._queue[0], pe.frequency_hz)
        pe.user_event("send", delay_cycles=delay_until(pe, target, charged))

    def on_user_event(self, pe, arg) -> None:
        """Send the step's events back to back (``slice_send`` cycles each)."""
        if self._queue is None:
            return
        tick, fired, vals, k = self._queue
        n = fired.size - k
        w = self._send
        pe.charge(n * w.cycles)
        pe.count(sram_read_bytes=n * w.sram_read_bytes, sram_written_bytes=n * w.sram_written_bytes)
        pe.send(encode(self.key_base, fired[k:], tick & 1), vals[k:].view(np.uint32).reshape(-1, 1),
                at_cycles=self._send_at[:n])
        self._queue = None


# -- the kind ------------------------------------------------------------------------------------

def slice_row_nnz(M: np.ndarray, hidden: int, units: np.ndarray) -> np.ndarray:
    """Nonzeros of each row of M within the gate columns of ``units``."""
    return np.count_nonzero(M[:, gate_cols(units, hidden)], axis=1).astype(np.int64)


def _unit_slices(sl, hidden: int) -> np.ndarray | None:
    """(hidden, slices) 0/1: which slice holds each unit; None if a unit is in two slices."""
    onehot = np.zeros((hidden, len(sl)), np.int64)
    for k, s in enumerate(sl):
        onehot[np.asarray(s.units, np.int64), k] += 1
    return onehot if onehot.max(initial=0) <= 1 else None


def _csr_slice_row_nnz(m, hidden: int, onehot: np.ndarray) -> np.ndarray:
    """``slice_row_nnz`` of every slice at once (rows x slices) from a CSR of the same matrix:
    each nonzero counted for the slice that holds its gate column's unit."""
    n_rows, n_sl = m.shape[0], onehot.shape[1]
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(m.rowptr))
    k = onehot.argmax(axis=1)[m.cols.astype(np.int64) % hidden]
    held = onehot.any(axis=1)[m.cols.astype(np.int64) % hidden]
    return np.bincount(rows[held] * n_sl + k[held], minlength=n_rows * n_sl).reshape(
        n_rows, n_sl).astype(np.int64)


class EGRUSliceKind(CoreKind):
    name = "egru"

    def idle_tick_cycles(self, cm: CostModel) -> int:
        return cm.c("slice_tick")

    def _row_nnz(self, s, network, cache: dict) -> tuple[np.ndarray, np.ndarray]:
        """Nonzeros per W row and per R row within the slice's gate columns (float32 sums, as
        the schedule has always been sized with)."""
        layer = network.layers[s.layer]
        H = layer.hidden
        key = ("egru_nz", s.layer)
        if key not in cache:
            cache[key] = ((layer.W != 0).astype(np.float32), (layer.R != 0).astype(np.float32))
        nz_w, nz_r = cache[key]
        cols = gate_cols(s.units, H)
        return nz_w[:, cols].sum(axis=1), nz_r[:, cols].sum(axis=1)

    def schedule_costs(self, s, network, cm: CostModel, cache: dict) -> tuple[int, int]:
        w_rows, r_rows = self._row_nnz(s, network, cache)
        rows = np.concatenate([w_rows, r_rows])
        if "w_dense" in s.regions:  # MLA slice: input events store, the product is at the tick
            w_rows = np.zeros_like(w_rows)
            rows = np.concatenate([w_rows, r_rows])
        mean = int(math.ceil(cm.c("slice_event") + cm.c("slice_nnz") * float(rows.mean())))
        return mean, cm.slice_tick_cycles(len(s.units), len(s.units)) + mla_tick_cycles(s, cm)

    def mean_input_event_cycles(self, s, network, cm: CostModel, cache: dict) -> int:
        """Mean handler cycles of an event from the input source (W rows only): what the input
        source paces its sends by."""
        w_rows, _ = self._row_nnz(s, network, cache)
        if "w_dense" in s.regions:
            return int(cm.c("slice_event"))
        return int(math.ceil(cm.c("slice_event") + cm.c("slice_nnz") * float(w_rows.mean())))

    def program(self, ctx: BuildContext, s) -> EGRUSliceProgram:
        from firmware_py.schedule import sender_slot

        if "egru_cores" not in ctx.cache:
            if ctx.cost.precision == "int8":
                from firmware_py.kinds.egru_int8 import build_int8_cores

                ctx.cache["egru_cores"] = build_int8_cores(ctx.mapping, ctx.network, ctx.cost)
            else:
                ctx.cache["egru_cores"] = build_cores(ctx.mapping, ctx.network,
                                                      check=not ctx.csr_checked)
        return EGRUSliceProgram(s.id, ctx.cache["egru_cores"][s.id], ctx.cost, s.regions,
                                s.key_base, s.first_tick, ctx.last_tick(s),
                                schedule=sender_slot(ctx.mapping, s))

    def _received_masks(self, ctx: AnalyticContext, s) -> tuple[np.ndarray, np.ndarray]:
        """Which inputs (W rows) and which own units (R rows) reach the slice via the routes."""
        m, i = ctx.mapping, s.layer
        layer = ctx.network.layers[i]
        w_order, w_off, _ = source_row_order(m, i)
        src_in = ["input"] if i == 0 else [x.id for x in m.layer_slices(i - 1)]
        w_mask = np.zeros(layer.n_in, bool)
        for k, sid in enumerate(src_in):
            if sid in ctx.routed and s.id in ctx.receivers.get(sid, ()):
                w_mask[w_order[w_off[k]:w_off[k + 1]]] = True
        r_mask = np.zeros(layer.hidden, bool)
        for x in m.layer_slices(i):
            if x.id in ctx.routed and s.id in ctx.receivers.get(x.id, ()):
                r_mask[np.asarray(x.units)] = True
        return w_mask, r_mask

    def _layer_received(self, ctx: AnalyticContext, i: int):
        """Per step and slice of layer ``i`` (columns in slice order): events received and the
        weights they touch, from the input side and from the layer itself. One matrix product
        per layer: events (T, rows) @ (rows, slices) of per-slice row nonzeros (rows that do not
        reach a slice through the routes masked out), in float32 where every partial sum is an
        integer below 2**24 (exact in any order), else float64."""
        key = ("egru_received", i)
        if key in ctx.cache:
            return ctx.cache[key]
        sl, w_reach, w_nnz, r_reach, r_nnz, onehot = self._layer_reach(ctx, i)
        in_act = (ctx.xs != 0 if i == 0 else ctx.ys[i - 1] != 0).astype(w_nnz.dtype)
        rec_act = (ctx.ys[i] != 0).astype(r_nnz.dtype)
        ys_i = ctx.ys[i]
        out = {"in": (in_act @ w_reach, in_act @ w_nnz),
               "rec": (rec_act @ r_reach, rec_act @ r_nnz),
               "fired": (rec_act @ onehot.astype(rec_act.dtype)) if onehot is not None else
               np.stack([np.count_nonzero(ys_i[:, s.units], axis=1) for s in sl], axis=1)}
        out = {k: tuple(np.rint(a).astype(np.int64) for a in v) if isinstance(v, tuple)
               else np.rint(v).astype(np.int64) for k, v in out.items()}
        ctx.cache[key] = out
        return out

    def _layer_reach(self, ctx: AnalyticContext, i: int):
        """Of layer ``i`` (slices in slice order): which rows reach each slice, and the row
        nonzeros within each slice's gate columns of the rows that reach it (W, then R); from
        the mapping only, so computed once per run."""
        key = ("egru_reach", i)
        if key not in ctx.run_cache:
            layer = ctx.network.layers[i]
            sl = sorted(ctx.mapping.layer_slices(i), key=lambda x: x.index)
            masks = [self._received_masks(ctx, s) for s in sl]
            w_reach = np.stack([w for w, _ in masks], axis=1)  # (n_in, slices)
            r_reach = np.stack([r for _, r in masks], axis=1)  # (H, slices)
            onehot = _unit_slices(sl, layer.hidden)
            if onehot is None:  # slices overlap: count on the dense matrices
                w_nnz = np.stack([slice_row_nnz(layer.W, layer.hidden, s.units) for s in sl], 1)
                r_nnz = np.stack([slice_row_nnz(layer.R, layer.hidden, s.units) for s in sl], 1)
            else:  # from the CSR the oracle run has just checked against W and R
                w_nnz, r_nnz = (_csr_slice_row_nnz(c, layer.hidden, onehot) for c in layer.csr)
            mla = [k for k, x in enumerate(sl) if "w_dense" in x.regions]
            if mla:  # the MLA slices store no W nonzeros: an input event costs no row loop
                w_nnz = np.array(w_nnz, copy=True)
                w_nnz[:, mla] = 0

            def exact(reach, nnz):  # (reach, nnz x reach) as float32 if sums stay exact in it
                nnz = nnz * reach
                dt = np.float32 if max(len(reach), int(nnz.sum(0).max(initial=0))) < 2**24 \
                    else np.float64
                return reach.astype(dt), nnz.astype(dt)

            ctx.run_cache[key] = (sl, *exact(w_reach, w_nnz), *exact(r_reach, r_nnz), onehot)
        return ctx.run_cache[key]

    def book_counts(self, ctx: AnalyticContext, s) -> None:
        cm, i = ctx.cost, s.layer
        pe_id, steps = ctx.mapping.placement[s.id], ctx.steps
        got = self._layer_received(ctx, i)
        k = s.index
        # input events of step t arrive in tick t+1+i, own events of step t in tick t+2+i
        received = ((got["in"][0][:, k], got["in"][1][:, k], 1),
                    (got["rec"][0][:, k], got["rec"][1][:, k], 2))
        nz_w = cm.work("slice_nnz")
        ev_base = cm.c("slice_event") + ctx.irq
        rd_ev = int(cm.event_sram(0)[0])
        for n_ev, nnz, off in received:
            ctx.book(pe_id, steps + off + i,
                     active_cycles=n_ev * ev_base + nnz * cm.c("slice_nnz"),
                     packets_received=n_ev, handlers=n_ev, cpu_macs=nnz, synaptic_events=nnz,
                     sram_read_bytes=n_ev * rd_ev + nnz * nz_w.sram_read_bytes,
                     sram_written_bytes=nnz * nz_w.sram_written_bytes)
        self._book_ticks(ctx, s, pe_id)

    def _book_ticks(self, ctx: AnalyticContext, s, pe_id: int) -> None:
        """The tick handler of each step (update, fire) and the user event that sends."""
        cm, i, T = ctx.cost, s.layer, ctx.n_steps
        fired = self._layer_received(ctx, i)["fired"][:, s.index]
        u = len(s.units)
        sends = fired if s.key_base is not None else np.zeros(T, np.int64)
        t_c = cm.slice_tick_cycles(u, 0) + fired * cm.c("slice_fire") + ctx.irq
        uw, fw, tw, sw = (cm.work(k) for k in ("slice_unit", "slice_fire", "slice_tick",
                                               "slice_send"))
        burst = (sends > 0).astype(np.int64)  # one user event sends the step's events
        if "w_dense" in s.regions:  # the MLA's input product at each tick of the window
            t_c = t_c + mla_tick_cycles(s, cm)
            ctx.book(pe_id, ctx.steps + 2 + i, macs=np.full(T, mla_macs(s)))
        ctx.book(pe_id, ctx.steps + 2 + i,
                 active_cycles=t_c + sends * cm.c("slice_send") + burst * ctx.irq,
                 handlers=1 + burst, packets_sent=sends,
                 exp_calls=np.full(T, exp_calls_per_unit(cm) * u),
                 sram_read_bytes=tw.sram_read_bytes + u * uw.sram_read_bytes
                 + sends * sw.sram_read_bytes,
                 sram_written_bytes=tw.sram_written_bytes + u * uw.sram_written_bytes
                 + fired * fw.sram_written_bytes + sends * sw.sram_written_bytes)

    def events_sent(self, s, ys: list[np.ndarray]) -> np.ndarray:
        """(T,) events the slice sends per step (when it has a route)."""
        return np.count_nonzero(ys[s.layer][:, s.units], axis=1).astype(np.int64)
