"""Random EGRU networks of any shape and weight density (for tests, property tests, sweeps)."""

from __future__ import annotations

import numpy as np

from models.egru.reference import EGRULayer
from s2sim.compiler.ir import Network

__all__ = ["random_network"]


def random_network(sizes=(24, 16), n_in: int = 12, density: float = 0.3, seed: int = 0,
                   scale: float = 1.0, theta_max: float = 0.3, readout_out: int = 0,
                   trace: bool = False, name: str = "random") -> Network:
    """EGRU layers of ``sizes`` units with ``density`` nonzero weights N(0, (scale/√fan)²)."""
    rng = np.random.default_rng(seed)
    layers, prev = [], n_in
    for H in sizes:
        fan = max(1.0, density * (prev + H))

        def mat(r, c, fan=fan):
            keep = rng.random((r, c)) < density
            return (rng.standard_normal((r, c)) * keep * (scale / np.sqrt(fan))).astype(np.float32)

        layers.append(EGRULayer(mat(prev, 3 * H), mat(H, 3 * H),
                                (0.1 * rng.standard_normal(3 * H)).astype(np.float32),
                                (0.1 * rng.standard_normal(3 * H)).astype(np.float32),
                                rng.uniform(0.0, theta_max, H).astype(np.float32)))
        prev = H
    W_ro = b_ro = None
    if readout_out:
        W_ro = (rng.standard_normal((readout_out, prev)) / np.sqrt(prev)).astype(np.float32)
        b_ro = (0.1 * rng.standard_normal(readout_out)).astype(np.float32)
    return Network.from_layers(layers, readout_weights=W_ro, readout_bias=b_ro, trace=trace,
                               name=name)
