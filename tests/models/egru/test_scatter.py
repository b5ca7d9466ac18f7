"""The SIMD row update equals the scalar one bit for bit (all tails, both column widths)."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.egru.scatter import LANES, STEP_LANES, column_lanes, row_axpy_scalar, row_axpy_simd


@numba.njit
def _simd(acc, cols, vals, j0, j1, x):
    row_axpy_simd(acc, cols, vals, j0, j1, x)


@numba.njit
def _scalar(acc, cols, vals, j0, j1, x):
    row_axpy_scalar(acc, cols, vals, j0, j1, x)


@settings(max_examples=60, deadline=None)
@given(n_out=st.integers(1, 300), nnz=st.integers(0, 3 * LANES + 5), seed=st.integers(0, 2**31),
       wide=st.booleans(), offset=st.integers(0, 7))
def test_simd_row_equals_scalar_row(n_out, nnz, seed, wide, offset):
    rng = np.random.default_rng(seed)
    nnz = min(nnz, n_out)
    row = np.sort(rng.choice(n_out, nnz, replace=False))
    # the row sits at an unaligned place inside a longer column array, as in a CSR
    cols = np.zeros(offset + nnz + 9, np.int32 if wide else np.uint16)
    cols[offset:offset + nnz] = row
    vals = rng.standard_normal(cols.size).astype(np.float32) * np.float32(rng.uniform(1e-3, 1e3))
    acc0 = rng.standard_normal(n_out).astype(np.float32)
    x = np.float32(rng.standard_normal())
    a, b = acc0.copy(), acc0.copy()
    _simd(a, cols, vals, offset, offset + nnz, x)
    _scalar(b, cols, vals, offset, offset + nnz, x)
    np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))
    untouched = np.setdiff1d(np.arange(n_out), row)
    np.testing.assert_array_equal(a[untouched], acc0[untouched])  # masked lanes write nothing


def test_simd_row_refuses_strided_arrays():
    # lane addresses assume unit stride: a strided accumulator is a typing error, not wrong sums
    acc = np.zeros((4, 3), np.float32)[:, 0]
    with pytest.raises(numba.core.errors.TypingError):
        _simd(acc, np.arange(2, dtype=np.uint16), np.ones(2, np.float32), 0, 2, np.float32(1))


@numba.njit
def _column(acc, xT, idx, vals, k0, k1, m):
    column_lanes(acc, xT, idx, vals, k0, k1, m)


@settings(max_examples=60, deadline=None)
@given(n_in=st.integers(1, 80), nnz=st.integers(0, 80), seed=st.integers(0, 2**31),
       wide=st.booleans(), zeros=st.sampled_from([0.0, 0.5, 1.0]),
       m=st.integers(1, STEP_LANES))
def test_column_lanes_equals_the_scalar_sums(n_in, nnz, seed, wide, zeros, m):
    rng = np.random.default_rng(seed)
    nnz = min(nnz, n_in)
    idx = np.zeros(nnz + 5, np.int32 if wide else np.uint16)
    idx[2:2 + nnz] = np.sort(rng.choice(n_in, nnz, replace=False))
    vals = (rng.standard_normal(idx.size) * 2.0 ** rng.integers(-10, 10, idx.size)).astype(
        np.float32)
    xT = (rng.standard_normal((n_in, STEP_LANES)) * 2.0 ** rng.integers(-10, 10, (n_in, 1)))
    xT = xT.astype(np.float32)
    xT[rng.random(xT.shape) < zeros] = 0
    xT[rng.random(xT.shape) < 0.1] = -0.0
    acc = np.full(STEP_LANES, np.float32(5))
    _column(acc, xT, idx, vals, 2, 2 + nnz, m)
    want = np.zeros(STEP_LANES, np.float32)
    for k in range(2, 2 + nnz):
        x = xT[idx[k]]
        want = np.where(x != 0, (want + x * vals[k]).astype(np.float32), want)
    # lanes < m are the sums; the vectors past the one holding lane m-1 are not written
    done = -(-m // LANES) * LANES
    np.testing.assert_array_equal(acc[:done].view(np.uint32), want[:done].view(np.uint32))
    np.testing.assert_array_equal(acc[done:], np.float32(5))


@pytest.mark.parametrize("cpu, features, want", [
    ("sapphirerapids", "+avx512f,+avx2", True),
    ("znver4", "+avx512f,+avx2", False),  # AVX-512, but the scatter is microcode
    ("haswell", "-avx512f,+avx2", False),
])
def test_simd_row_only_where_it_is_the_faster_form(monkeypatch, cpu, features, want):
    import llvmlite.binding as llvm

    from models.egru import scatter

    class _Features:
        def flatten(self):
            return features

    monkeypatch.setattr(llvm, "get_host_cpu_name", lambda: cpu)
    monkeypatch.setattr(llvm, "get_host_cpu_features", lambda: _Features())
    assert scatter._host_scatters_fast() is want
