"""``run_mapping``: the one entry point of all engines.

    run_mapping(mapping, inputs, engine="functional" | "analytic" | "des", *, network=None,
                compare=True, progress=False, oracle=None, observe=None,
                tick_columns=None) -> RunResult

``mapping``  a ``s2sim.compiler.Mapping`` (compiled, or loaded from JSON).
``inputs``   either token ids, shape (T,) integer, for a network with an input embedding (the
             host looks them up), or input vectors, shape (T, n_in) float32 (frames, embeddings).
``network``  the ``s2sim.compiler.Network`` the mapping was compiled from; needed only when the
             mapping was loaded from JSON and its ``network_ref`` cannot be resolved (a network
             built in Python). Its fingerprint must match the mapping's.
``compare``  run the numpy oracle on the same inputs and count mismatches (RunResult.mismatches).
``oracle``   the oracle's trace of these inputs (``network.stack.run``), when the caller already
             has it (several runs of one network on the same inputs, e.g. choosing the tick).
``observe``  called as ``observe(a, trace)`` with the reference trace the run is priced from,
             steps a, a+1, ... (the analytic engine: window by window, in step order; the
             functional and DES engines: once, a = 0, the whole run's oracle), e.g. a
             ``models.egru.lm.NextTokenScorer``: perplexity from the same pass as the energy.
``tick_columns`` the analytic engine on a run longer than its window keeps its per-tick ledger
             binned to at most this many columns (default ``analytic.MAX_COLUMNS``, bounded
             memory); 0 keeps every tick (memory grows with the run; the report's per-tick
             figures and steady-state split then cover a long run too).
"""

from __future__ import annotations

import time

import numpy as np

from s2sim.engine.result import ENGINES, Mismatches, RunResult
from s2sim.errors import S2SimError

__all__ = ["run_mapping", "ENGINES_FROM_ORACLE"]

# Engines whose layer outputs are the numpy reference's own: comparing them with it checks nothing.
ENGINES_FROM_ORACLE = ("functional", "analytic")


def run_mapping(
    mapping,
    inputs,
    engine: str = "functional",
    *,
    network=None,
    compare: bool = True,
    progress: bool = False,
    oracle=None,
    observe=None,
    tick_columns: int | None = None,
) -> RunResult:
    if engine not in ENGINES:
        raise S2SimError(f"engine {engine!r} unknown: choose one of {', '.join(ENGINES)}")
    if tick_columns is not None and (isinstance(tick_columns, bool) or
                                     not isinstance(tick_columns, (int, np.integer))
                                     or tick_columns < 0):
        raise S2SimError(f"tick_columns {tick_columns!r}: a whole number >= 0 (0 = every tick)")
    from s2sim.engine.common import prepare_run

    if network is not None:
        mapping.attach(network)
    reused = _reuse(mapping, inputs, engine, oracle, observe, tick_columns)
    if reused is not None:  # the same long analytic run, just priced (choosing the tick)
        return _finish(reused, engine, compare, None, mapping, inputs)
    run = prepare_run(mapping, inputs, network=network, oracle=oracle)
    run.observe, run.tick_columns = observe, tick_columns
    t0 = time.perf_counter()
    if engine == "functional":
        from s2sim.engine.functional import run_functional as fn
    elif engine == "analytic":
        from s2sim.engine.analytic import run_analytic as fn
    else:
        from s2sim.engine.des import run_des as fn
    result = fn(run, progress=progress)
    if observe is not None and engine != "analytic":  # the analytic engine observes its windows
        observe(0, run.oracle())
    result.wall_s = time.perf_counter() - t0
    return _finish(result, engine, compare, run, mapping, inputs)


def _finish(result: RunResult, engine: str, compare: bool, run, mapping, inputs) -> RunResult:
    if compare and engine in ENGINES_FROM_ORACLE:
        result.mismatches = Mismatches(
            not_checked=f"the {engine} engine's outputs are the reference's own (nothing "
                        "independent to compare; use the des engine or --check-des)",
            late_packets=result.mismatches.late_packets)
    elif compare:
        from s2sim.engine.common import compare_with_oracle

        compare_with_oracle(run, result)
    result.meta.setdefault("network_fingerprint", mapping.network_fingerprint)
    result.meta.setdefault("inputs_shape", list(np.shape(inputs)))
    return result


# -- one long analytic run remembered ------------------------------------------------------------

# ``--tick-s auto`` on a long run checks the chosen tick with an analytic run of all the inputs,
# and the command then runs the same mapping on the same inputs: that second run is this one.
# One slot, for runs longer than the analytic engine's window (short runs are cheap); reused only
# while the mapping (bar the tick-choice notes in its options), the network's weights and the
# inputs are unchanged, and for an ``observe`` only if that run was observed by the same one.
_MEMO: list = []
_MEMO_IGNORED_OPTIONS = ("tick_choice", "tick_margin")


def _memo_key(mapping) -> tuple:
    opts = {k: v for k, v in mapping.options.items() if k not in _MEMO_IGNORED_OPTIONS}
    net = mapping.network
    layers = []
    for la in net.layers:  # weights edited in place: a rebuilt CSR (checked against W and R)
        la.refresh(check=True)
        layers.append((la.csr, la.b_x.tobytes(), la.b_r.tobytes(), la.theta.tobytes()))
    ro = net.readout.weights
    return (mapping.model_dump_json(exclude={"options"}), repr(sorted(opts.items())),
            net.fingerprint(), layers, None if ro is None else ro.tobytes())


def _same_key(a: tuple, b: tuple) -> bool:
    if a[:3] != b[:3] or a[4] != b[4] or len(a[3]) != len(b[3]):
        return False
    return all(x[0] is y[0] and x[1:] == y[1:] for x, y in zip(a[3], b[3], strict=True))


def remember_analytic(mapping, inputs, result: RunResult, observe=None) -> None:
    """Keep ``result`` (an analytic run of ``inputs`` on ``mapping``, observed by ``observe``)
    for ``run_mapping``."""
    from s2sim.engine.analytic import WINDOW_STEPS

    _MEMO.clear()
    if np.shape(inputs)[0] > WINDOW_STEPS:
        _MEMO.append((mapping, _memo_key(mapping), np.array(inputs, copy=True), result, observe))


def _reuse(mapping, inputs, engine: str, oracle, observe, tick_columns=None) -> RunResult | None:
    if engine != "analytic" or oracle is not None or tick_columns is not None or not _MEMO:
        return None
    m, key, xs, result, observed_by = _MEMO[0]
    a = np.asarray(inputs)
    if m is not mapping or a.shape != xs.shape or a.dtype != xs.dtype:
        return None
    if observe is not None and observe is not observed_by:
        return None
    if not np.array_equal(a, xs) or not _same_key(_memo_key(mapping), key):
        return None
    _MEMO.clear()
    return result
