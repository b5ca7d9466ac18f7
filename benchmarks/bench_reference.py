"""Speed of the numpy reference EGRU (the functional oracle) at batch size 1.

    python benchmarks/bench_reference.py [--tokens 200] [--activity 0.02 0.05 0.1 0.15 0.3 0.5]

For the paper-shape model (3 x EGRU 1350/1350/750, 95 % pruned, ``models.egru.paper``) calibrated
to several per-layer activities, it measures in one run:
- tokens/s of the recurrent stack on the sparse event path (rows of active inputs only),
- tokens/s of the same stack on the dense path (every row), and of the full LM step (stack +
  host-side tied decoder over 33,278 words),
- events and effective MACs per token (``models.egru.metrics.synaptic_operations``),
and prints the time per token against the events per token, so that one sees whether the
sparse path's cost falls in proportion to the number of events. Numbers are for the machine it
runs on (single-threaded BLAS is forced so that runs are comparable on shared machines).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from models.egru.metrics import synaptic_operations  # noqa: E402
from models.egru.paper import paper_shape_model, zipf_tokens  # noqa: E402


def _time_stack(model, xs, dense: bool, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        state = model.stack.zero_state()
        t0 = time.perf_counter()
        for t in range(xs.shape[0]):
            _, state = model.stack.step(xs[t], state, dense=dense)
        best = min(best, time.perf_counter() - t0)
    return best / xs.shape[0]


def _time_lm(model, tokens) -> float:
    state = model.stack.zero_state()
    t0 = time.perf_counter()
    for tok in tokens:
        y, state = model.stack.step(model.embedding[tok], state)
        model.logits(y)
    return (time.perf_counter() - t0) / len(tokens)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--activity", type=float, nargs="+",
                    default=[0.02, 0.05, 0.1, 0.15, 0.3, 0.5])
    args = ap.parse_args(argv)
    tokens = zipf_tokens(args.tokens + 50, 33278, seed=123)
    rows = []
    print(f"numpy reference, paper shape, batch 1, {args.tokens} tokens after 50 warm-up, "
          f"best of {args.repeats}")
    hdr = (f"{'target':>7} {'act l1/l2/l3':>17} {'ev/tok':>7} {'effMAC/tok':>11} "
           f"{'sparse tok/s':>12} {'dense tok/s':>11} {'LM tok/s':>9} {'us/event':>9}")
    print(hdr)
    for a in args.activity:
        m = paper_shape_model(seed=0, activity=(a, a, a))
        xs_all = m.embedding[tokens]
        # warm the state so activity is in its steady regime, then time from that state
        tr = m.stack.run(xs_all)
        xs = xs_all[50:]
        ys = [y[50:] for y in tr.ys]
        act = [float(np.count_nonzero(y)) / y.size for y in ys]
        events = sum(int(np.count_nonzero(y)) for y in ys) / xs.shape[0]

        class _T:  # the trace of the timed window, for the MAC count
            pass
        tw = _T()
        tw.ys = ys
        macs = synaptic_operations(m, xs, tw)["Effective_MACs"]
        t_sparse = _time_stack(m, xs, dense=False, repeats=args.repeats)
        t_dense = _time_stack(m, xs, dense=True, repeats=1)
        t_lm = _time_lm(m, tokens[50:50 + min(100, args.tokens)])
        rows.append((a, act, events, macs, t_sparse, t_dense, t_lm))
        print(f"{a:7.2f} {'/'.join(f'{x:.3f}' for x in act):>17} {events:7.0f} {macs:11.0f} "
              f"{1 / t_sparse:12.1f} {1 / t_dense:11.1f} {1 / t_lm:9.1f} "
              f"{1e6 * t_sparse / max(events, 1):9.2f}")
    if len(rows) >= 2:
        ev = np.array([r[2] for r in rows])
        ts = np.array([r[4] for r in rows])
        slope, icpt = np.polyfit(ev, ts, 1)
        print(f"fit: time/token = {icpt * 1e3:.3f} ms + {slope * 1e6:.3f} us x events/token "
              f"(event-proportional share at the highest activity: "
              f"{slope * ev[-1] / ts[-1]:.0%})")
        lo, hi = rows[0], rows[-1]
        print(f"events x{hi[2] / lo[2]:.1f} from activity {lo[0]} to {hi[0]}: sparse time "
              f"x{hi[4] / lo[4]:.2f}, dense time x{hi[5] / lo[5]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
