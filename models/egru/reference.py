"""Reference EGRU in numpy (float32): the functional oracle of the simulator.

The math is that of ``docs/egru.md`` (shared), which follows the EvNN reference implementation
(Subramoney et al., ICLR 2023). One step of one layer, gate columns ordered ``[z | r | g]``::

    Wx = x·W + b_x ;  Rh = y_prev·R + b_r
    z = σ(Wx_z + Rh_z) ;  r = σ(Wx_r + Rh_r) ;  g = tanh(Wx_g + r ⊙ Rh_g)
    c = z ⊙ c_prev + (1 − z) ⊙ g
    o = H(c − θ)    (strict: c − θ > 0 fires, as torch.heaviside(v, v) in EvNN)
    y = o ⊙ c ;  c_t = c − o ⊙ θ

Thresholds are clamped to [0, 1] (EvNN clamps ``thr`` before every forward pass); the layer keeps
the clamped copy so that every user sees the same effective θ.

**Two paths, one math.** The default (sparse) path holds W and R in CSR form (rows = inputs,
columns = the 3H gate columns; built once per layer on first use and cached) — the representation
the PEs hold — and a numba kernel touches only the nonzeros of the rows of nonzero inputs / of the
units that fired, so the cost of a step follows events × nonzeros per row, as on the chip. It
accumulates as the firmware does: per event ``acc += x * w`` (float32 product rounded, then the
float32 sum rounded), events in ascending input index order, then ``wx = acc + b_x``. The dense
path (``dense=True``: ``x @ W + b_x`` by BLAS) is the readable specification; it sums in BLAS's
order (blocked, fused multiply-adds), so the two agree to float32 round-off (bit for bit whenever
the products and their partial sums are exact), and the tests check them against each other.
``EGRUStack.run`` runs the sparse path as a skewed wavefront: layer l runs a block of
``RUN_BLOCK`` steps behind layer l-1, so when a layer starts a block its inputs of the whole
block exist and its input products are computed for the block at once (layer 0's once per
distinct input row: a token stream repeats its embedding rows), 64 steps at a time per weight
column with the sums in vector registers (``_lanes_product``), instead of a gather/scatter per
nonzero and step. The recurrent products stay step by step (each needs the step before), all
layers' of a wave in one kernel call, and the cell runs on the layers side by side in compiled
loops around numpy's own ``exp`` and ``tanh``, so that the transcendental functions are the
specification's bit for bit. Per output element every path does the same float32 operations in
the same order as ``step``, so the same bits. A CSR row is added 16 lanes at a time where the
host has AVX-512, a weight column 64 (``models.egru.scatter``).

W and R are read once, when the CSR is built: edit them in place only before the layer's first
sparse step, or call ``refresh()`` after editing. ``EGRUStack.run`` checks that the cached CSR
still equals W and R (the nonzero count and the values at the stored positions) and rebuilds it
if not.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numba
import numpy as np

from models.egru.errors import ModelError
from models.egru.scatter import STEP_LANES, column_lanes, prefetch, row_axpy

__all__ = ["EGRULayer", "EGRUStack", "StackTrace", "CSRMatrix", "sigmoid", "egru_cell", "GATES"]

GATES = ("z", "r", "g")
_F32 = np.float32


def sigmoid(v: np.ndarray) -> np.ndarray:
    """Logistic function in float32, stable for large |v| (no overflow warnings)."""
    v = np.asarray(v, dtype=_F32)
    # e = exp(-|v|) is exp(-v) where v >= 0 and exp(v) elsewhere: 1 / (1 + exp(-v)) for v >= 0,
    # exp(v) / (1 + exp(v)) for v < 0, element for element as computing the halves apart
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, _F32(1) / (_F32(1) + e), e / (_F32(1) + e))


def _as_f32(name: str, a, shape: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype != _F32:
        raise ModelError(f"EGRU parameter {name}: dtype {a.dtype}, expected float32")
    if a.shape != shape:
        raise ModelError(f"EGRU parameter {name}: shape {a.shape}, expected {shape}")
    return np.ascontiguousarray(a)


@dataclass(frozen=True)
class CSRMatrix:
    """Compressed sparse rows of a dense float32 matrix: row i's nonzeros are
    ``vals[rowptr[i]:rowptr[i+1]]`` at columns ``cols[...]`` (ascending)."""

    rowptr: np.ndarray  # (n_rows + 1,) int64
    cols: np.ndarray  # (nnz,) uint16 if at most 65,536 columns (as on the PEs), else int32
    vals: np.ndarray  # (nnz,) float32
    shape: tuple[int, int]

    @classmethod
    def from_dense(cls, M: np.ndarray) -> CSRMatrix:
        r, c = np.nonzero(M)  # row-major: rows ascending, columns ascending within a row
        rowptr = np.zeros(M.shape[0] + 1, np.int64)
        np.cumsum(np.bincount(r, minlength=M.shape[0]), out=rowptr[1:])
        cols = c.astype(np.uint16 if M.shape[1] <= 1 << 16 else np.int32)
        return cls(rowptr, cols, np.ascontiguousarray(M[r, c], _F32),
                   (int(M.shape[0]), int(M.shape[1])))

    @property
    def nnz(self) -> int:
        return int(self.vals.size)

    def transpose(self) -> CSRMatrix:
        """The CSR of the transposed matrix (row c = column c's nonzeros, rows ascending);
        built once and kept on this (immutable) matrix, so that the stacks of layers sharing
        a CSR (``EGRULayer.with_theta``, a threshold search) share it too."""
        t = self.__dict__.get("_transposed")
        if t is None:
            t = self._transposed_now()
            object.__setattr__(self, "_transposed", t)  # a cache, not a field (frozen)
        return t

    def _transposed_now(self) -> CSRMatrix:
        n_rows, n_cols = self.shape
        order = np.argsort(self.cols, kind="stable")  # by column; rows stay ascending
        rows = np.repeat(np.arange(n_rows), np.diff(self.rowptr))[order]
        rowptr = np.zeros(n_cols + 1, np.int64)
        np.cumsum(np.bincount(self.cols, minlength=n_cols), out=rowptr[1:])
        return CSRMatrix(rowptr, rows.astype(np.uint16 if n_rows <= 1 << 16 else np.int32),
                         np.ascontiguousarray(self.vals[order]), (n_cols, n_rows))

    def matches(self, M: np.ndarray) -> bool:
        """Whether this CSR still holds exactly the nonzeros of ``M`` (O(M.size), no copy of M):
        the same number of nonzeros and the same values at the stored positions."""
        if M.shape != self.shape or M.dtype != _F32:
            return False
        # NaN compares unequal to itself, so a matrix holding NaN is rebuilt each time (correct)
        return bool(_csr_matches(np.ascontiguousarray(M), self.rowptr, self.cols, self.vals))


@numba.njit(cache=True, nogil=True)
def _csr_values_match(M, rowptr, cols, vals):  # pragma: no cover (compiled)
    """M holds the CSR's values at the CSR's positions (a gather over the nonzeros only)."""
    for i in range(M.shape[0]):
        for k in range(rowptr[i], rowptr[i + 1]):
            if M[i, cols[k]] != vals[k]:
                return False
    return True


@numba.njit(cache=True, nogil=True)
def _count_nonzero(M):  # pragma: no cover (compiled)
    """Nonzeros of a float32 matrix (a loop the compiler vectorises; numpy's is scalar)."""
    n = 0
    for i in range(M.shape[0]):
        row = M[i]
        k = 0
        for c in range(row.size):
            k += row[c] != 0
        n += k
    return n


def _csr_matches(M, rowptr, cols, vals) -> bool:
    """M's nonzeros are exactly the CSR's: as many nonzeros and the CSR's (nonzero) values at
    its positions, so no other position of M can be nonzero."""
    return (_count_nonzero(M) == vals.size) and _csr_values_match(M, rowptr, cols, vals)


@numba.njit(cache=True, nogil=True)
def _csr_product(x, rowptr, cols, vals, bias, out):  # pragma: no cover (compiled)
    """out[b] = (sum over nonzero x[b, i], i ascending, of x[b, i] * row i) + bias, in float32.

    Per event and nonzero weight: ``acc += x * w`` with the product and the sum each rounded to
    float32 (the firmware's VMLA); ``out = acc + bias`` at the end (the firmware's tick)."""
    n_b, n_in = x.shape
    n_out = out.shape[1]
    for b in range(n_b):
        acc = out[b]
        for c in range(n_out):
            acc[c] = np.float32(0)
        for i in range(n_in):
            xi = x[b, i]
            if xi != 0:
                row_axpy(acc, cols, vals, rowptr[i], rowptr[i + 1], xi)
        for c in range(n_out):
            acc[c] = np.float32(acc[c] + bias[c])



@numba.njit(cache=True, nogil=True)
def _lanes_product(x, t_ptr, t_idx, t_vals, bias, dst, out):  # pragma: no cover (compiled)
    """``_csr_product`` of the rows of x (N, n_in) into columns ``dst`` of out (N, ...): out[n,
    dst[c]] = (sum over nonzero x[n, i], i ascending, of x[n, i] * W[i, c]) + bias[c], from
    the transposed CSR of W (``t_*``: row c = column c's nonzeros, inputs ascending).

    Per (n, c) the same float32 operations in the same order as ``_csr_product``, so the same
    bits; but STEP_LANES rows of x go through a column at once (``column_lanes``): contiguous
    vector work in registers instead of a gather/scatter per nonzero and row of x."""
    N, n_in = x.shape
    xT = np.empty((n_in, STEP_LANES), np.float32)  # STEP_LANES rows of x, transposed
    acc = np.empty(STEP_LANES, np.float32)
    for n0 in range(0, N, STEP_LANES):
        m = min(STEP_LANES, N - n0)
        xT[:, m:] = 0  # lanes past the last row: zero inputs, skipped
        for j in range(m):
            for i in range(n_in):
                xT[i, j] = x[n0 + j, i]
        for c in range(t_ptr.size - 1):
            column_lanes(acc, xT, t_idx, t_vals, t_ptr[c], t_ptr[c + 1], m)
            col, bc = dst[c], bias[c]
            for j in range(m):
                out[n0 + j, col] = np.float32(acc[j] + bc)


# fired rows ahead whose nonzeros ``_wave_products`` prefetches (paper shape, per token: 2 to 8
# measured alike, ~4 % less time in the products than without)
_PREFETCH_ROWS = 4


@numba.njit(cache=True, nogil=True)
def _wave_products(lo, hi, y, rh, fr, off, hid, br):  # pragma: no cover (compiled)
    """The recurrent products of layers lo .. hi-1 of one wave, into the stack's joint gate
    layout (``_Fused``): every layer's outputs by the CSR rows of the units that fired, per
    event ``acc += y * w`` in ascending unit order, then ``+ b_r``: the operations of
    ``_csr_product``, so the same float32 results bit for bit.

    ``fr`` = (rowptr, cols, vals, row0) of all layers' R rows one after another (layer l's
    rows start at ``row0[l]``), each layer's own gate columns; a layer's products are summed
    in a scratch of its 3H columns (L1-resident) and then written to the joint layout."""
    r_rowptr, r_cols, r_vals, r_row0 = fr
    n_b, h_tot = y.shape
    acc = np.empty(3 * hid.max(), np.float32)  # one layer's gate columns: stays in L1
    fired = np.empty(hid.max(), np.int64)
    for b in range(n_b):
        yb, rhb = y[b], rh[b]
        for ll in range(lo, hi):
            H, o = hid[ll], off[ll]
            acc[:3 * H] = 0
            nf = 0  # the units that fired, ascending
            for i in range(H):
                if yb[o + i] != 0:
                    fired[nf] = i
                    nf += 1
            for p in range(nf):
                if p + _PREFETCH_ROWS < nf:  # R does not fit in L2: ask for a later row early
                    rn = r_row0[ll] + fired[p + _PREFETCH_ROWS]
                    for j in range(r_rowptr[rn], r_rowptr[rn + 1], 16):  # 64-byte lines
                        prefetch(r_vals, j)
                    for j in range(r_rowptr[rn], r_rowptr[rn + 1], 32):
                        prefetch(r_cols, j)
                r0 = r_row0[ll] + fired[p]
                row_axpy(acc, r_cols, r_vals, r_rowptr[r0], r_rowptr[r0 + 1], yb[o + fired[p]])
            for q in range(3):
                # slices indexed from 0: no wraparound, so plain vector loads and stores
                dq, aq, bq = rhb[q * h_tot + o:q * h_tot + o + H], acc[q * H:(q + 1) * H], \
                    br[q * h_tot + o:q * h_tot + o + H]
                for u in range(H):
                    dq[u] = np.float32(aq[u] + bq[u])


@numba.njit(cache=True, nogil=True)
def _wave_gates(lo, hi, y, wx, rh, fr, off, hid, br, v, e):  # pragma: no cover (compiled)
    """A wave's recurrent products (``_wave_products``), then the z and r pre-activations
    ``v = wx + rh`` of every layer into v, and into e ``-|v|`` (``sigmoid``'s exponent) for the
    running layers lo .. hi-1 (lo < hi), 0 for the others (not started or done: exp of whatever
    was left would overflow).

    The running layers' units are one contiguous range [j0, j1) of each gate's block, so every
    loop is over contiguous 1-D rows: the compiler vectorises them (the float32 operations of
    each element are those of the elementwise specification, whatever the lane order)."""
    _wave_products(lo, hi, y, rh, fr, off, hid, br)
    _wave_gates_pre(lo, hi, wx, rh, off, hid, v, e)


@numba.njit(cache=True, nogil=True)
def _wave_gates_pre(lo, hi, wx, rh, off, hid, v, e):  # pragma: no cover (compiled)
    """The elementwise part of ``_wave_gates`` (after the products), on its own for a caller
    with products of its own (the DES's EGRU slices, ``firmware_py.kinds.egru_slice``)."""
    n_b, h_tot = wx.shape[0], wx.shape[1] // 3
    j0, j1 = off[lo], off[hi - 1] + hid[hi - 1]
    zero = np.float32(0)
    for b in range(n_b):
        wxb, rhb, vb = wx[b], rh[b], v[b]
        for j in range(2 * h_tot):
            vb[j] = np.float32(wxb[j] + rhb[j])
        for q in range(2):
            # slices indexed from 0: the compiler sees the indices nonnegative (no wraparound)
            # and vectorises with plain loads and stores
            e0, e1, e2 = e[b, q * h_tot:q * h_tot + j0], e[b, q * h_tot + j0:q * h_tot + j1], \
                e[b, q * h_tot + j1:(q + 1) * h_tot]
            vq = v[b, q * h_tot + j0:q * h_tot + j1]
            for u in range(e0.size):
                e0[u] = zero
            for u in range(e1.size):
                e1[u] = -abs(vq[u])
            for u in range(e2.size):
                e2[u] = zero


# error_model="numpy": no zero-divisor check (1 + e >= 1 here), so the division vectorises;
# IEEE division either way, the same bits
@numba.njit(cache=True, nogil=True, error_model="numpy")
def _wave_candidate(lo, hi, off, hid, wx, rh, v, e, a):  # pragma: no cover (compiled)
    """From ``e = exp(-|v|)``: the gates ``sigmoid(v)`` into e (as ``sigmoid``: 1 / (1 + e)
    where v >= 0, e / (1 + e) elsewhere) and the candidate's argument ``wx_g + r * rh_g``
    into a, for the running layers lo .. hi-1 (lo < hi: units [j0, j1) of each gate)."""
    n_b, h_tot = a.shape
    j0, j1 = off[lo], off[hi - 1] + hid[hi - 1]
    n = j1 - j0
    one = np.float32(1)
    for b in range(n_b):
        for q in range(2):
            vq, eq = v[b, q * h_tot + j0:q * h_tot + j1], e[b, q * h_tot + j0:q * h_tot + j1]
            for u in range(n):  # from 0 (see ``_wave_gates``)
                ev = eq[u]
                num = one if vq[u] >= 0 else ev  # a select, not a branch
                eq[u] = np.float32(num / np.float32(one + ev))
        r, wg, rg = e[b, h_tot + j0:h_tot + j1], wx[b, 2 * h_tot + j0:2 * h_tot + j1], \
            rh[b, 2 * h_tot + j0:2 * h_tot + j1]
        ab = a[b, j0:j1]
        for u in range(n):
            ab[u] = np.float32(wg[u] + np.float32(r[u] * rg[u]))


@numba.njit(cache=True, nogil=True)
def _wave_update(lo, hi, k, lag, off, hid, theta, e, a, y, c, ys, cs):  # pragma: no cover
    """The rest of ``egru_cell`` for the running layers, from the gates z (in e) and
    ``g = tanh(...)`` (in a): ``c = z * c_prev + (1 - z) * g``, the event ``c - theta > 0``,
    the output and the reset, in ``egru_cell``'s operations; the new state into y and c and
    layer l's step ``k - l * lag`` into ``ys[l]``, ``cs[l]`` (T, B, H). 1-D row views inside
    the unit loop, so that it vectorises."""
    n_b = a.shape[0]
    one, zero = np.float32(1), np.float32(0)
    for ll in range(lo, hi):
        yl, cl = ys[ll], cs[ll]
        t, o, H = k - ll * lag, off[ll], hid[ll]
        th = theta[o:o + H]
        for b in range(n_b):
            zb, gb, yb, cb = e[b, o:o + H], a[b, o:o + H], y[b, o:o + H], c[b, o:o + H]
            ylt, clt = yl[t, b], cl[t, b]
            for u in range(H):
                z = zb[u]
                cc = np.float32(np.float32(z * cb[u]) + np.float32(np.float32(one - z) * gb[u]))
                fired = np.float32(cc - th[u]) > 0
                yv = cc if fired else zero  # selects, not branches: events are irregular
                cn = np.float32(cc - (th[u] if fired else zero))
                yb[u] = yv
                cb[u] = cn
                ylt[u] = yv
                clt[u] = cn


def egru_cell(wx: np.ndarray, rh: np.ndarray, c_prev: np.ndarray, theta: np.ndarray, H: int):
    """The gate nonlinearity and event generation of ``EGRULayer.cell`` (elementwise: the same
    operations on the joint layout of several layers give each layer's results bit for bit)."""
    zr = sigmoid(wx[..., : 2 * H] + rh[..., : 2 * H])  # z and r: elementwise, one call
    z, r = zr[..., :H], zr[..., H:]
    g = np.tanh(wx[..., 2 * H :] + r * rh[..., 2 * H :]).astype(_F32, copy=False)
    c = z * c_prev + (_F32(1) - z) * g
    o = c - theta > 0
    y = np.where(o, c, _F32(0)).astype(_F32, copy=False)
    c_new = (c - np.where(o, theta, _F32(0))).astype(_F32, copy=False)
    return y, c_new, o


def _unique_rows_product(x: np.ndarray, wt: CSRMatrix, bias: np.ndarray, dst: np.ndarray,
                         out: np.ndarray) -> None:
    """``_lanes_product`` of the rows of x into columns ``dst`` of out, each distinct row (byte
    for byte) computed once: a token stream's embedding rows repeat, and equal rows give equal
    products."""
    x = np.ascontiguousarray(x, _F32)
    u, inv = np.unique(x.view(np.dtype((np.void, x.shape[1] * 4))).ravel(), return_inverse=True)
    rows = np.ascontiguousarray(u.view(_F32).reshape(u.size, x.shape[1]))
    once = np.empty((u.size, wt.shape[0]), _F32)
    _lanes_product(rows, wt.rowptr, wt.cols, wt.vals, bias, np.arange(wt.shape[0]), once)
    _copy_rows(once, inv.ravel(), dst, out)


@numba.njit(cache=True, nogil=True)
def _copy_rows(src, which, dst, out):  # pragma: no cover (compiled)
    """``out[n, dst] = src[which[n]]`` for every row n of out (numpy's fancy-indexed assignment,
    without its temporary)."""
    for n in range(out.shape[0]):
        s, o = src[which[n]], out[n]
        for c in range(dst.shape[0]):
            o[dst[c]] = s[c]


@dataclass(frozen=True)
class _Fused:
    """All layers of a stack in one gate layout ``[z of every layer | r ... | g ...]`` (layer l
    at unit offset ``off[l]`` of ``H = sum of hidden``): R rows renumbered to it, b_r and the
    thresholds concatenated; per layer W transposed (``_lanes_product``) and the joint columns
    ``dst`` of its 3H gate columns. Built from the layers' CSR (kept to notice a rebuild)."""

    csr: tuple
    off: np.ndarray
    hid: np.ndarray
    fr: tuple
    wt: tuple
    dst: tuple
    b_r: np.ndarray
    theta: np.ndarray

    @classmethod
    def of(cls, layers) -> _Fused:
        hid = np.array([la.hidden for la in layers], np.int64)
        off = np.concatenate([[0], np.cumsum(hid)[:-1]]).astype(np.int64)
        h_tot = int(hid.sum())

        def cat(mats):
            rowptr, cols, vals, row0, n = [np.zeros(1, np.int64)], [], [], [], 0
            for m in mats:
                row0.append(sum(p.size for p in rowptr[1:]))
                rowptr.append(m.rowptr[1:] + n)
                cols.append(m.cols)
                vals.append(m.vals)
                n += m.nnz
            return (np.concatenate(rowptr), np.concatenate(cols), np.concatenate(vals),
                    np.array(row0, np.int64))

        csr = tuple(la.csr for la in layers)
        dst = tuple((np.arange(3)[:, None] * h_tot + o + np.arange(la.hidden)).ravel()
                    for la, o in zip(layers, off, strict=True))
        b_r = np.zeros(3 * h_tot, _F32)
        for la, d in zip(layers, dst, strict=True):
            b_r[d] = la.b_r
        theta = np.concatenate([la.theta for la in layers]).astype(_F32)
        return cls(csr, off, hid, cat([c[1] for c in csr]), tuple(c[0].transpose() for c in csr),
                   dst, b_r, theta)


class EGRULayer:
    """One EGRU layer with parameters W (n_in, 3H), R (H, 3H), b_x, b_r (3H,), theta (H,)."""

    def __init__(self, W, R, b_x, b_r, theta):
        W = np.asarray(W)
        if W.ndim != 2 or W.shape[1] % 3:
            raise ModelError(f"EGRU parameter W: shape {W.shape}, expected (n_in, 3H)")
        n_in, h3 = W.shape
        hidden = h3 // 3
        self.W = _as_f32("W", W, (n_in, h3))
        self.R = _as_f32("R", R, (hidden, h3))
        self.b_x = _as_f32("b_x", b_x, (h3,))
        self.b_r = _as_f32("b_r", b_r, (h3,))
        theta = _as_f32("theta", theta, (hidden,))
        # EvNN clamps thresholds to [0, 1] in every forward pass; it is part of the model math.
        self.theta = np.clip(theta, _F32(0), _F32(1)).astype(_F32)
        self.n_in = n_in
        self.hidden = hidden
        self._csr: tuple[CSRMatrix, CSRMatrix] | None = None

    # -- sizes -------------------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        return self.W.size + self.R.size + self.b_x.size + self.b_r.size + self.theta.size

    def zero_state(self, batch: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        shape = (self.hidden,) if batch is None else (batch, self.hidden)
        return np.zeros(shape, _F32), np.zeros(shape, _F32)

    # -- CSR weights (the sparse path) -------------------------------------------------------
    @property
    def csr(self) -> tuple[CSRMatrix, CSRMatrix]:
        """(W, R) in CSR form, built on first use and cached on the layer."""
        if self._csr is None:
            self._csr = (CSRMatrix.from_dense(self.W), CSRMatrix.from_dense(self.R))
        return self._csr

    def with_theta(self, theta) -> EGRULayer:
        """This layer with other thresholds (clamped the same way), sharing W, R, the biases
        and the CSR built so far (a threshold search needs no new CSR per try)."""
        new = copy.copy(self)
        new.theta = np.clip(_as_f32("theta", theta, (self.hidden,)), _F32(0), _F32(1)).astype(_F32)
        return new

    def refresh(self, check: bool = False) -> None:
        """Forget the cached CSR (after editing W or R in place); with ``check``, only if it no
        longer matches W and R."""
        if self._csr is None:
            return
        if not check or not (self._csr[0].matches(self.W) and self._csr[1].matches(self.R)):
            self._csr = None

    @staticmethod
    def _product(v: np.ndarray, m: CSRMatrix, bias: np.ndarray) -> np.ndarray:
        v2 = np.ascontiguousarray(v.reshape(-1, v.shape[-1]), _F32)
        out = np.empty((v2.shape[0], m.shape[1]), _F32)
        _csr_product(v2, m.rowptr, m.cols, m.vals, bias, out)
        return out.reshape(*v.shape[:-1], m.shape[1])

    # -- numerics ----------------------------------------------------------------------------
    def input_product(self, x: np.ndarray, dense: bool = False) -> np.ndarray:
        """x·W + b_x: on the CSR nonzeros of the rows of nonzero inputs (unless ``dense``)."""
        if dense:
            return x @ self.W + self.b_x
        return self._product(x, self.csr[0], self.b_x)

    def recurrent_product(self, y_prev: np.ndarray, dense: bool = False) -> np.ndarray:
        """y_prev·R + b_r: on the CSR nonzeros of the rows of fired units (unless ``dense``)."""
        if dense:
            return y_prev @ self.R + self.b_r
        return self._product(y_prev, self.csr[1], self.b_r)

    def cell(self, wx: np.ndarray, rh: np.ndarray, c_prev: np.ndarray):
        """Gate nonlinearity and event generation from the two products.

        Returns ``(y, c, o)``: graded output, state after the subtractive reset, event flags.
        Split out so that a simulator that computes the products elsewhere (on the PEs) can
        reuse exactly this operation order.
        """
        return egru_cell(wx, rh, c_prev, self.theta, self.hidden)

    def step(self, x, y_prev, c_prev, dense: bool = False):
        """One time step: ``(x, y_prev, c_prev) -> (y, c)``; x is (n_in,) or (B, n_in)."""
        x = np.asarray(x, dtype=_F32)
        y_prev = np.asarray(y_prev, dtype=_F32)
        c_prev = np.asarray(c_prev, dtype=_F32)
        if x.shape[-1] != self.n_in:
            raise ModelError(f"EGRU input has {x.shape[-1]} features, layer expects {self.n_in}")
        if y_prev.shape[-1] != self.hidden or c_prev.shape != y_prev.shape:
            raise ModelError(
                f"EGRU state shapes y {y_prev.shape}, c {c_prev.shape}; "
                f"expected (..., {self.hidden})"
            )
        wx = self.input_product(x, dense)
        rh = self.recurrent_product(y_prev, dense)
        y, c, _ = self.cell(wx, rh, c_prev)
        return y, c


@dataclass
class StackTrace:
    """What a stack run produced, per layer: outputs ys (T, H), states cs (T, H), event counts.

    ``events[l][t]`` is the number of units of layer l that fired at step t (batch summed);
    ``traces`` holds the output traces ``tr_t = 0.9 tr_{t-1} + 0.1 y_t`` when requested.
    """

    ys: list[np.ndarray]
    cs: list[np.ndarray]
    events: list[np.ndarray]
    traces: list[np.ndarray] | None = None
    input_events: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def activity(self) -> list[float]:
        """Fraction of nonzero outputs per layer (1 − activation sparsity)."""
        return [float(np.count_nonzero(y)) / y.size if y.size else 0.0 for y in self.ys]

    def activation_sparsity(self) -> list[float]:
        return [1.0 - a for a in self.activity()]


class EGRUStack:
    """Layers applied in sequence; layer l+1 receives the graded events y of layer l."""

    TRACE_DECAY = np.float32(0.9)

    def __init__(self, layers: list[EGRULayer]):
        if not layers:
            raise ModelError("EGRUStack needs at least one layer")
        for i in range(1, len(layers)):
            if layers[i].n_in != layers[i - 1].hidden:
                raise ModelError(
                    f"EGRU layer {i} expects {layers[i].n_in} inputs, layer {i - 1} has "
                    f"{layers[i - 1].hidden} units"
                )
        self.layers = list(layers)

    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    @property
    def sizes(self) -> list[int]:
        return [layer.hidden for layer in self.layers]

    def zero_state(self, batch: int | None = None):
        return [layer.zero_state(batch) for layer in self.layers]

    def step(self, x, state, dense: bool = False):
        """One step through all layers; ``state`` is a list of (y, c). Returns (y_top, state)."""
        new_state = []
        inp = x
        for layer, (y_prev, c_prev) in zip(self.layers, state, strict=True):
            y, c = layer.step(inp, y_prev, c_prev, dense=dense)
            new_state.append((y, c))
            inp = y
        return inp, new_state

    # steps per block of the sparse run (each layer's input products of a block in one kernel
    # call) and the lag of a layer behind the one below; 64-256 measured alike on the paper shape
    RUN_BLOCK = 128

    def _fused(self) -> _Fused:
        """The joint layout of the layers (``_Fused``), rebuilt when a layer's CSR was."""
        f = getattr(self, "_fused_cache", None)
        if f is None or any(a is not la.csr for a, la in zip(f.csr, self.layers, strict=True)):
            f = self._fused_cache = _Fused.of(self.layers)
        return f

    def run(self, xs, state=None, dense: bool = False, trace: bool = False,
            input_product: np.ndarray | None = None, check_csr: bool = True) -> StackTrace:
        """Run T steps of input ``xs`` (T, n_in) or (T, B, n_in) from ``state`` (zeros).

        ``input_product``: layer 0's ``x·W + b_x`` of every step (``layers[0].input_product(xs)``,
        (T, [B,] 3H)) when the caller already has it, e.g. a calibration that reruns a layer on
        the same input with other thresholds (sparse path; it must be that product).
        ``check_csr=False`` skips the check that the cached CSR still equals W and R (a pass
        over every weight): only for a caller that has not edited them since the CSR was
        built, e.g. that calibration, which reruns the same layer many times.

        The sparse path runs as a skewed wavefront: with D = ``RUN_BLOCK``, in wave k layer l does
        step k - l·D. Every D waves each running layer starts a block of D steps and computes
        its input products for the whole block (layer l-1 did those steps in the waves before;
        layer 0's from ``xs`` or ``input_product``): batched over steps, they cost far less than
        step by step. Then per wave one kernel call computes the recurrent products of all
        running layers and one call of the cell's operations (``egru_cell``, elementwise) on the
        layers side by side updates them all. Memory beyond ys and cs is one block of input
        products, D × [B ×] 3·sum(H). Each step's operations are those of ``step``, so the
        result is the same bit for bit for any D; the dense path is ``step`` in a loop.
        """
        xs = np.asarray(xs, dtype=_F32)
        if dense and input_product is not None:
            raise ModelError("EGRU input_product: the dense path computes its own products")
        if dense:
            return self._run_steps(xs, state, dense=True, trace=trace)
        for layer in self.layers if check_csr else ():  # W or R edited since the CSR was built
            layer.refresh(check=True)  # -> rebuild it
        if xs.ndim not in (2, 3) or xs.shape[-1] != self.n_in:
            raise ModelError(f"EGRU input has shape {xs.shape}, expected (T, [B,] {self.n_in})")
        T = xs.shape[0]
        bshape = xs.shape[1:-1]
        if state is None:
            state = self.zero_state(bshape[0] if bshape else None)
        state = [(np.ascontiguousarray(y, _F32), np.ascontiguousarray(c, _F32)) for y, c in state]
        for layer, (y, c) in zip(self.layers, state, strict=True):
            if y.shape != (*bshape, layer.hidden) or c.shape != y.shape:
                raise ModelError(f"EGRU state shapes y {y.shape}, c {c.shape}; expected "
                                 f"{(*bshape, layer.hidden)}")
        ys = [np.zeros((T, *bshape, layer.hidden), _F32) for layer in self.layers]
        cs = [np.zeros((T, *bshape, layer.hidden), _F32) for layer in self.layers]
        if input_product is not None:
            input_product = np.asarray(input_product)
            want = (*xs.shape[:-1], 3 * self.layers[0].hidden)
            if input_product.shape != want or input_product.dtype != _F32:
                raise ModelError(f"EGRU input_product: shape {input_product.shape} "
                                 f"{input_product.dtype}, expected float32 {want}")
        if T:
            self._wavefront(xs, state, ys, cs, input_product)
        nb = int(np.prod(bshape, dtype=np.int64))
        events = [np.count_nonzero(y.reshape(T, nb * y.shape[-1]), axis=1).astype(np.int64)
                  for y in ys]
        in_events = np.count_nonzero(xs.reshape(T, nb * self.n_in), axis=1).astype(np.int64)
        trs = None
        if trace:
            trs = []
            for y in ys:
                tr, tr_state = np.zeros_like(y), np.zeros_like(y[0])
                for t in range(T):
                    tr_state = self.TRACE_DECAY * tr_state + (_F32(1) - self.TRACE_DECAY) * y[t]
                    tr[t] = tr_state
                trs.append(tr)
        return StackTrace(ys=ys, cs=cs, events=events, traces=trs, input_events=in_events)

    def _wavefront(self, xs, state, ys, cs, given_wx0=None) -> None:
        """The sparse run's waves (see ``run``): fills ys and cs (T, [B,] H) per layer."""
        f = self._fused()
        T, L = xs.shape[0], len(self.layers)
        nb = int(np.prod(xs.shape[1:-1], dtype=np.int64))
        h_tot = int(f.hid.sum())
        y = np.concatenate([s[0].reshape(nb, -1) for s in state], axis=1)
        c = np.concatenate([s[1].reshape(nb, -1) for s in state], axis=1)
        rh = np.zeros((nb, 3 * h_tot), _F32)
        v = np.zeros((nb, 2 * h_tot), _F32)  # z and r pre-activations
        e = np.zeros((nb, 2 * h_tot), _F32)  # exp(-|v|), then the gates z and r
        a = np.zeros((nb, h_tot), _F32)  # the candidate's tanh argument, then g
        ys3 = tuple(o.reshape(T, nb, o.shape[-1]) for o in ys)  # views: written in place
        cs3 = tuple(o.reshape(T, nb, o.shape[-1]) for o in cs)
        lag = max(1, min(int(self.RUN_BLOCK), T))  # a short run: no waves with no layer running
        wx = np.zeros((lag, nb, 3 * h_tot), _F32)  # input products of a block, all layers
        wx2 = wx.reshape(lag * nb, 3 * h_tot)
        for k in range(T + (L - 1) * lag):
            # layer l does step k - l * lag: lo .. hi-1 are the layers inside their T steps
            lo, hi = max(0, (k - T) // lag + 1), min(L, k // lag + 1)
            if k % lag == 0:  # every running layer starts a block: its input products
                for ll in range(lo, hi):
                    t0 = k - ll * lag
                    t1 = min(T, t0 + lag)
                    n, la = (t1 - t0) * nb, self.layers[ll]
                    if ll == 0 and given_wx0 is not None:
                        wx2[:n, f.dst[0]] = given_wx0[t0:t1].reshape(n, -1)
                    elif ll == 0:
                        _unique_rows_product(xs[t0:t1].reshape(n, -1), f.wt[0], la.b_x,
                                             f.dst[0], wx2[:n])
                    else:  # layer l-1's outputs of the block, done in the waves before
                        wt = f.wt[ll]
                        _lanes_product(ys3[ll - 1][t0:t1].reshape(n, -1), wt.rowptr, wt.cols,
                                       wt.vals, la.b_x, f.dst[ll], wx2[:n])
            wxk = wx[k % lag]
            # ``egru_cell`` on the running layers, its transcendental functions by numpy's own
            # exp and tanh (the bits of the specification), the rest compiled
            _wave_gates(lo, hi, y, wxk, rh, f.fr, f.off, f.hid, f.b_r, v, e)
            np.exp(e, out=e)
            _wave_candidate(lo, hi, f.off, f.hid, wxk, rh, v, e, a)
            np.tanh(a, out=a)
            _wave_update(lo, hi, k, lag, f.off, f.hid, f.theta, e, a, y, c, ys3, cs3)

    def _run_steps(self, xs, state=None, dense: bool = False, trace: bool = False) -> StackTrace:
        """``run`` as a loop over ``step`` (the dense specification)."""
        T = xs.shape[0]
        batch = xs.shape[1] if xs.ndim == 3 else None
        if state is None:
            state = self.zero_state(batch)
        L = len(self.layers)
        ys = [np.zeros((T, *s[0].shape), _F32) for s in state]
        cs = [np.zeros((T, *s[0].shape), _F32) for s in state]
        events = [np.zeros(T, np.int64) for _ in range(L)]
        trs = [np.zeros((T, *s[0].shape), _F32) for s in state] if trace else None
        tr_state = [np.zeros_like(s[0]) for s in state]
        in_events = np.zeros(T, np.int64)
        for t in range(T):
            in_events[t] = np.count_nonzero(xs[t])
            _, state = self.step(xs[t], state, dense=dense)
            for i, (y, c) in enumerate(state):
                ys[i][t] = y
                cs[i][t] = c
                events[i][t] = np.count_nonzero(y)
                if trace:
                    tr_state[i] = self.TRACE_DECAY * tr_state[i] + (_F32(1) - self.TRACE_DECAY) * y
                    trs[i][t] = tr_state[i]
        return StackTrace(ys=ys, cs=cs, events=events, traces=trs, input_events=in_events)
