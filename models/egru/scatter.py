"""The sparse reference's inner loop, ``acc[cols[j]] += x * vals[j]`` over one CSR row, in SIMD.

Each element is one float32 multiply and one float32 add, each rounded (no fused multiply-add,
no reordering): the firmware's per-event accumulation, so the result is the same bit for bit
whether the row is done element by element or 16 at a time. The 16-wide form is safe because a
CSR row's columns are distinct: no two lanes of one step touch the same ``acc`` entry, and the
steps of a row (and the rows) run one after another, so every ``acc`` entry sees its additions in
the order of the scalar loop.

numba's loop vectorizer cannot prove the columns distinct, so it leaves the scalar loop scalar;
the 16-lane step is written as LLVM's masked load / gather / scatter intrinsics (AVX-512's
``vgatherdps`` / ``vscatterdps``, one each for 16 lanes: the addresses are one getelementptr of
the array by the vector of 32-bit columns; LLVM lowers them to scalar code on a CPU without them,
with the same results). Lane addresses are the array's base plus 4 x column, so the arrays must
be contiguous (typing refuses others). It is used where it is the faster form (``SIMD``: AVX-512,
and not AMD Zen, whose scatter is microcode), the scalar loop elsewhere, and the tests run both;
``python benchmarks/bench_engines.py`` measures the whole reference.

``column_lanes`` is the batched form (``reference._lanes_product``): one weight column for
STEP_LANES inputs at once (the steps of a block), from a transposed CSR. Its lanes are
contiguous, so it is plain vector IR (portable), the sums stay in registers across the column,
and an input that is zero adds +0 instead of being skipped, which leaves a sum that started at
+0 unchanged (such a sum is never -0): the same bits as skipping it.

``prefetch`` is a cache hint (no effect on any result): the recurrent products ask for the CSR
rows of units a few events ahead, since R of the paper shape does not fit in L2.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["SIMD", "LANES", "STEP_LANES", "row_axpy", "row_axpy_scalar", "row_axpy_simd",
           "column_lanes", "prefetch"]

LANES = 16  # one AVX-512 register of float32


def _host_scatters_fast() -> bool:
    """AVX-512 and not AMD Zen: Zen 4 has AVX-512 but runs ``vscatterdps`` as microcode; there
    the SIMD row is ~1.8x slower than the scalar loop on the paper shape's recurrent products
    (``python benchmarks/bench_scatter.py`` times both); on Intel (Sapphire Rapids) it measured
    faster than the scalar loop (then still with its negative-index checks)."""
    import llvmlite.binding as llvm

    return ("+avx512f" in llvm.get_host_cpu_features().flatten().split(",")
            and not llvm.get_host_cpu_name().startswith("znver"))


SIMD = _host_scatters_fast()


def _splat(builder, value, vec_ty):
    """A vector of ``vec_ty`` with every lane ``value``."""
    one = builder.insert_element(ir.Constant(vec_ty, ir.Undefined), value,
                                 ir.Constant(ir.IntType(32), 0))
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), vec_ty.count), [0] * vec_ty.count)
    return builder.shuffle_vector(one, ir.Constant(vec_ty, ir.Undefined), zeros)


@intrinsic
def _axpy_lanes(typingctx, acc, cols, vals, j, n, x):
    """``acc[cols[j + k]] += x * vals[j + k]`` for lanes k < n (n <= LANES), in one step."""
    if not (isinstance(cols.dtype, types.Integer) and cols.dtype.bitwidth in (16, 32)
            and acc.dtype == types.float32 and vals.dtype == types.float32
            and all(a.ndim == 1 and a.layout == "C" for a in (acc, cols, vals))):
        return None  # no such signature: a typing error, never a strided address
    sig = types.void(acc, cols, vals, j, n, x)

    def codegen(context, builder, signature, args):
        acc_a, cols_a, vals_a, j_v, n_v, x_v = args
        acc_s = context.make_array(signature.args[0])(context, builder, acc_a)
        cols_s = context.make_array(signature.args[1])(context, builder, cols_a)
        vals_s = context.make_array(signature.args[2])(context, builder, vals_a)
        mod = builder.module
        i32, i64 = ir.IntType(32), ir.IntType(64)
        f32v = ir.VectorType(ir.FloatType(), LANES)
        idx_bits = signature.args[1].dtype.bitwidth
        idxv = ir.VectorType(ir.IntType(idx_bits), LANES)
        i64v = ir.VectorType(i64, LANES)
        maskv = ir.VectorType(ir.IntType(1), LANES)
        j_v = context.cast(builder, j_v, signature.args[3], types.int64)
        n_v = context.cast(builder, n_v, signature.args[4], types.int64)
        x_v = context.cast(builder, x_v, signature.args[5], types.float32)
        lanes = ir.Constant(i64v, list(range(LANES)))
        mask = builder.icmp_signed("<", lanes, _splat(builder, n_v, i64v))
        col_p = builder.gep(cols_s.data, [j_v])
        val_p = builder.gep(vals_s.data, [j_v])

        def masked_load(ptr, vec_ty, name, align):
            fn = cgutils.get_or_insert_function(
                mod, ir.FunctionType(vec_ty, [ptr.type, i32, maskv, vec_ty]), name)
            return builder.call(fn, [ptr, ir.Constant(i32, align), mask, ir.Constant(vec_ty, None)])

        cidx = masked_load(col_p, idxv, f"llvm.masked.load.v{LANES}i{idx_bits}.p0",
                           idx_bits // 8)
        v = masked_load(val_p, f32v, f"llvm.masked.load.v{LANES}f32.p0", 4)
        # lane addresses: one getelementptr of acc by the vector of 32-bit columns (unsigned
        # columns zero-extended), the form LLVM lowers to one vgatherdps / vscatterdps with a
        # base register (64-bit lane addresses would take two instructions of 8 lanes each)
        i32v = ir.VectorType(i32, LANES)
        if idx_bits == 16:
            cidx = builder.zext(cidx, i32v) if signature.args[1].dtype.signed is False \
                else builder.sext(cidx, i32v)
        ptrs = builder.gep(acc_s.data, [cidx], inbounds=True,
                           source_etype=ir.FloatType())
        ptrs.type = ir.VectorType(acc_s.data.type, LANES)  # llvmlite types it as one pointer
        gather = cgutils.get_or_insert_function(
            mod, ir.FunctionType(f32v, [ptrs.type, i32, maskv, f32v]),
            f"llvm.masked.gather.v{LANES}f32.v{LANES}p0")
        old = builder.call(gather, [ptrs, ir.Constant(i32, 4), mask, ir.Constant(f32v, None)])
        new = builder.fadd(old, builder.fmul(_splat(builder, x_v, f32v), v))  # two roundings
        scatter = cgutils.get_or_insert_function(
            mod, ir.FunctionType(ir.VoidType(), [f32v, ptrs.type, i32, maskv]),
            f"llvm.masked.scatter.v{LANES}f32.v{LANES}p0")
        builder.call(scatter, [new, ptrs, ir.Constant(i32, 4), mask])
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(cache=True, nogil=True, inline="always")
def row_axpy_scalar(acc, cols, vals, j0, j1, x):  # pragma: no cover (compiled)
    """``acc[cols[j]] += x * vals[j]`` for j = j0 .. j1-1, one element at a time."""
    # slices indexed from 0: the compiler sees the indices nonnegative and drops the negative-
    # index wraparound (4 instructions per element instead of 15)
    cs, vs = cols[j0:j1], vals[j0:j1]
    for j in range(cs.size):
        c = cs[j]
        acc[c] = np.float32(acc[c] + np.float32(x * vs[j]))


@numba.njit(cache=True, nogil=True, inline="always")
def row_axpy_simd(acc, cols, vals, j0, j1, x):  # pragma: no cover (compiled)
    """``row_axpy_scalar`` LANES elements per step (the columns of [j0, j1) distinct)."""
    for j in range(j0, j1, LANES):
        _axpy_lanes(acc, cols, vals, j, min(LANES, j1 - j), x)


row_axpy = row_axpy_simd if SIMD else row_axpy_scalar



@intrinsic
def prefetch(typingctx, arr, i):
    """A hint to bring the cache line of ``arr[i]`` (1-D, contiguous) into the caches."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C"):
        return None
    sig = types.void(arr, i)

    def codegen(context, builder, signature, args):
        a_s = context.make_array(signature.args[0])(context, builder, args[0])
        i_v = context.cast(builder, args[1], signature.args[1], types.int64)
        p = builder.bitcast(builder.gep(a_s.data, [i_v]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [p.type, i32, i32, i32]),
            "llvm.prefetch.p0i8")
        builder.call(fn, [p, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


STEP_LANES = 4 * LANES  # lanes of ``column_lanes``: four independent sums hide the add latency


def _column_lanes_of(n_vec: int):
    """``column_lanes`` as vector IR for the first ``n_vec`` x LANES lanes: the sums live in
    registers across the column (the other lanes of acc are not written)."""

    @intrinsic
    def _column_lanes(typingctx, acc, xT, idx, vals, k0, k1):
        return _column_lanes_typed(n_vec, acc, xT, idx, vals, k0, k1)

    return _column_lanes


def _column_lanes_typed(n_vec, acc, xT, idx, vals, k0, k1):
    if not (isinstance(idx.dtype, types.Integer) and idx.dtype.bitwidth in (16, 32)
            and acc.dtype == types.float32 and xT.dtype == types.float32
            and vals.dtype == types.float32 and acc.ndim == 1 and xT.ndim == 2
            and idx.ndim == 1 and vals.ndim == 1
            and all(a.layout == "C" for a in (acc, xT, idx, vals))):
        return None  # no such signature: a typing error, never a strided address
    sig = types.void(acc, xT, idx, vals, k0, k1)

    def codegen(context, builder, signature, args):
        acc_a, xt_a, idx_a, vals_a, k0_v, k1_v = args
        acc_s = context.make_array(signature.args[0])(context, builder, acc_a)
        xt_s = context.make_array(signature.args[1])(context, builder, xt_a)
        idx_s = context.make_array(signature.args[2])(context, builder, idx_a)
        vals_s = context.make_array(signature.args[3])(context, builder, vals_a)
        i64 = ir.IntType(64)
        f32v = ir.VectorType(ir.FloatType(), LANES)
        vptr = f32v.as_pointer()
        zero = ir.Constant(f32v, [0.0] * LANES)
        k0_v = context.cast(builder, k0_v, signature.args[4], types.int64)
        k1_v = context.cast(builder, k1_v, signature.args[5], types.int64)
        sums = [cgutils.alloca_once_value(builder, zero) for _ in range(n_vec)]
        with cgutils.for_range_slice(builder, k0_v, k1_v, ir.Constant(i64, 1), intp=i64) \
                as (k, _):
            i = builder.load(builder.gep(idx_s.data, [k]))
            i = builder.zext(i, i64) if signature.args[2].dtype.signed is False \
                else builder.sext(i, i64)
            w = _splat(builder, builder.load(builder.gep(vals_s.data, [k])), f32v)
            row = builder.gep(xt_s.data, [builder.mul(i, ir.Constant(i64, STEP_LANES))])
            for g, s in enumerate(sums):
                x = builder.load(builder.bitcast(
                    builder.gep(row, [ir.Constant(i64, g * LANES)]), vptr), align=4)
                # the product where x != 0 (NaN included, as ``if x != 0``), else +0: adding
                # +0 leaves a sum that started at +0 unchanged (it is never -0), i.e. skips x
                p = builder.select(builder.fcmp_unordered("!=", x, zero),
                                   builder.fmul(x, w), zero)
                builder.store(builder.fadd(builder.load(s), p), s)  # two roundings, no FMA
        for g, s in enumerate(sums):
            builder.store(builder.load(s), builder.bitcast(
                builder.gep(acc_s.data, [ir.Constant(i64, g * LANES)]), vptr), align=4)
        return context.get_dummy_value()

    return sig, codegen


# one kernel per number of vectors in use: a block's last, partial group of lanes (e.g. the
# distinct embedding rows of a block, ~76 of 128 on a Zipf stream) reads and adds only its vectors
_cl1, _cl2, _cl3, _cl4 = (_column_lanes_of(g) for g in range(1, STEP_LANES // LANES + 1))


@numba.njit(cache=True, nogil=True, inline="always")
def column_lanes(acc, xT, idx, vals, k0, k1, m=STEP_LANES):  # pragma: no cover (compiled)
    """One output column for m <= STEP_LANES inputs at once: ``acc[t] = sum over k = k0 .. k1-1
    of xT[idx[k], t] * vals[k]`` for t < m, from +0, the terms with ``xT[idx[k], t] == 0``
    skipped, in the order of k, each product and each sum rounded to float32 (lanes of acc
    from m up to the next multiple of LANES get the sums of their xT lanes, the rest is kept).

    ``xT`` is (n_in, STEP_LANES) C-contiguous (row i = input i of the STEP_LANES lanes); k runs
    over the nonzeros of one column of a weight matrix (``idx`` its rows ascending): per lane
    exactly the operations of ``row_axpy`` over the CSR rows of the nonzero inputs, ascending."""
    if m <= LANES:
        _cl1(acc, xT, idx, vals, k0, k1)
    elif m <= 2 * LANES:
        _cl2(acc, xT, idx, vals, k0, k1)
    elif m <= 3 * LANES:
        _cl3(acc, xT, idx, vals, k0, k1)
    else:
        _cl4(acc, xT, idx, vals, k0, k1)
