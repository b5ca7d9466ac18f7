"""``run_mapping``: the one entry point of all engines.

    run_mapping(mapping, inputs, engine="functional" | "analytic" | "des", *, network=None,
                compare=True, progress=False) -> RunResult

``mapping``  a ``s2sim.compiler.Mapping`` (compiled, or loaded from JSON).
``inputs``   either token ids, shape (T,) integer, for a network with an input embedding (the
             host looks them up), or input vectors, shape (T, n_in) float32 (frames, embeddings).
``network``  the ``s2sim.compiler.Network`` the mapping was compiled from; needed only when the
             mapping was loaded from JSON and its ``network_ref`` cannot be resolved (a network
             built in Python). Its fingerprint must match the mapping's.
``compare``  run the numpy oracle on the same inputs and count mismatches (RunResult.mismatches).
``oracle``   the oracle's trace of these inputs (``network.stack.run``), when the caller already
             has it (several runs of one network on the same inputs, e.g. choosing the tick).
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
) -> RunResult:
    if engine not in ENGINES:
        raise S2SimError(f"engine {engine!r} unknown: choose one of {', '.join(ENGINES)}")
    from s2sim.engine.common import prepare_run

    run = prepare_run(mapping, inputs, network=network, oracle=oracle)
    t0 = time.perf_counter()
    if engine == "functional":
        from s2sim.engine.functional import run_functional as fn
    elif engine == "analytic":
        from s2sim.engine.analytic import run_analytic as fn
    else:
        from s2sim.engine.des import run_des as fn
    result = fn(run, progress=progress)
    result.wall_s = time.perf_counter() - t0
    if compare and engine in ENGINES_FROM_ORACLE:
        result.mismatches = Mismatches(
            not_checked=f"the {engine} engine's outputs are the reference's own (nothing "
                        "independent to compare; use the des engine or --check-des)",
            late_packets=result.mismatches.late_packets)
    elif compare:
        from s2sim.engine.common import compare_with_oracle

        compare_with_oracle(run, result)
    result.meta.setdefault("network_fingerprint", run.mapping.network_fingerprint)
    result.meta.setdefault("inputs_shape", list(np.shape(inputs)))
    return result
