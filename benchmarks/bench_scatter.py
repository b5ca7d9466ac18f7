"""Benchmark: the sparse reference's recurrent products with the scalar and the SIMD row loop.

    python benchmarks/bench_scatter.py [--tokens 1000] [--repeat 3] [--seed 0]

The paper-shape LM (``models.egru.paper``) runs ``--tokens`` Zipf tokens; then its recurrent
products (every layer's fired units by their CSR rows of R, the joint gate layout of
``EGRUStack.run``) are computed again for those steps with each of ``scatter.row_axpy_scalar``
and ``scatter.row_axpy_simd`` (AVX-512 gather/scatter, 16 lanes per step; LLVM lowers it to
scalar code on a host without AVX-512) and the two results compared bit for bit. It prints
microseconds per token and nanoseconds per multiply-add of each (the fastest of ``--repeat``
passes, the two in turn), their ratio, and the form ``scatter.SIMD`` picks on this host: the
figures behind that choice (``docs/models.md``, "Reference speed").
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numba  # noqa: E402
import numpy as np  # noqa: E402


def _products_with(row):
    """The recurrent products of steps Y (T, H) with CSR ``fr`` by ``row`` (one loop form)."""

    @numba.njit(nogil=True)
    def products(Y, out, fr, off, hid, br):  # pragma: no cover (compiled)
        rowptr, cols, vals, row0 = fr
        h_tot = Y.shape[1]
        acc = np.empty(3 * hid.max(), np.float32)
        for t in range(Y.shape[0]):
            for ll in range(hid.shape[0]):
                H, o = hid[ll], off[ll]
                acc[:3 * H] = 0
                for i in range(H):
                    x = Y[t, o + i]
                    if x != 0:
                        r = row0[ll] + i
                        row(acc, cols, vals, rowptr[r], rowptr[r + 1], x)
                for q in range(3):
                    for u in range(H):
                        j = q * h_tot + o + u
                        out[t, j] = np.float32(acc[q * H + u] + br[j])

    return products


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokens", type=int, default=1000, help="steps whose products are timed")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes of each form (fastest)")
    ap.add_argument("--seed", type=int, default=0, help="paper-shape seed")
    args = ap.parse_args(argv)
    import llvmlite.binding as llvm

    from models.egru import scatter
    from models.egru.paper import paper_shape_model, zipf_tokens

    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, LLVM host CPU "
          f"{llvm.get_host_cpu_name()}, python {platform.python_version()}")
    model = paper_shape_model(args.seed)
    stack = model.stack
    tr = stack.run(model.embed(zipf_tokens(args.tokens, model.vocab_size, 1000 + args.seed)))
    f = stack._fused()
    Y = np.ascontiguousarray(np.concatenate(tr.ys, axis=1))
    macs = sum(int(np.diff(f.fr[0])[f.fr[3][ll] + np.flatnonzero(Y[t, o:o + h])].sum())
               for t in range(Y.shape[0])
               for ll, (o, h) in enumerate(zip(f.off, f.hid, strict=True)))
    forms = {"scalar": _products_with(scatter.row_axpy_scalar),
             "simd": _products_with(scatter.row_axpy_simd)}
    outs = {k: np.zeros((Y.shape[0], f.b_r.size), np.float32) for k in forms}
    best = {}
    for name, fn in forms.items():  # compile
        fn(Y[:1], outs[name][:1], f.fr, f.off, f.hid, f.b_r)
    for _ in range(args.repeat):
        for name, fn in forms.items():
            c0 = time.process_time()
            fn(Y, outs[name], f.fr, f.off, f.hid, f.b_r)
            dt = time.process_time() - c0
            best[name] = min(best.get(name, dt), dt)
    same = np.array_equal(outs["scalar"].view(np.uint32), outs["simd"].view(np.uint32))
    T = Y.shape[0]
    print(f"paper shape (seed {args.seed}), {T} tokens: {macs / T:,.0f} multiply-adds per token "
          f"in the recurrent products; scalar and SIMD results "
          f"{'identical bit for bit' if same else 'DIFFER'}")
    for name in forms:
        print(f"  {name:<6} {best[name] / T * 1e6:8.1f} us/token  "
              f"{best[name] / macs * 1e9:6.2f} ns per multiply-add")
    print(f"simd / scalar time: x{best['simd'] / best['scalar']:.2f}; this host uses "
          f"{'simd' if scatter.SIMD else 'scalar'} (scatter.SIMD)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
