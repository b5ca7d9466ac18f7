"""Placement: slices onto PEs.

Built-in placers (``PLACERS``), each ``fn(problem: PlacementProblem) -> dict[slice_id, pe_id]``:
- ``locality`` (default): the input source and the readout go to the QPE of the host bridge
  (shortest host path); the EGRU slices follow layer by layer along a serpentine walk over the QPE
  mesh that starts next to the bridge, so a layer's slices share QPEs and sit next to the layers
  they talk to (layer l sends to l and l+1 only).
- ``linear``: slices in order onto PEs in ascending id order (ignores the mesh).
- ``random``: a seeded random permutation (a stress test for routing and timing).
User placement from Python: a function with the same signature, or an explicit table
``{slice_id: pe_id}`` (every slice). ``pins`` fix single slices for any placer. A placement may
put several slices on one PE; the compiler refuses it when their SRAM regions do not fit,
naming the PE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from s2sim.errors import CompileError

__all__ = ["PlacementProblem", "PLACERS", "register_placer", "get_placer", "serpentine_pes"]


@dataclass
class PlacementProblem:
    """What a placer sees: slices in pipeline order, the free PEs, the chip geometry."""

    slice_ids: list[str]  # in order: input, layer 0 slices, layer 1 slices, ..., readout
    slice_layer: dict[str, int]  # -1 input, 0..L-1 EGRU layers, L readout
    slice_bytes: dict[str, int]
    free_pes: list[int]  # ascending ids not taken by pins
    spec: object
    seed: int = 0
    pinned: dict[str, int] = field(default_factory=dict)

    def qpe(self, pe: int) -> tuple[int, int]:
        return ((pe >> 5) & 7, (pe >> 2) & 7)


def serpentine_pes(spec, free_pes: list[int]) -> list[int]:
    """Free PEs ordered along a serpentine over QPE columns starting at the host bridge."""
    bx, by = (int(v) for v in spec.host.bridge_qpe.value)
    xs = sorted({(pe >> 5) & 7 for pe in free_pes}, key=lambda x: (abs(x - bx), x))
    order = []
    for i, x in enumerate(xs):
        col = sorted({(pe >> 2) & 7 for pe in free_pes if (pe >> 5) & 7 == x},
                     key=lambda y: (abs(y - by), y) if i == 0 else y)
        if i > 0 and i % 2 == 1:
            col = col[::-1]
        for y in col:
            order += sorted(pe for pe in free_pes if (pe >> 5) & 7 == x and (pe >> 2) & 7 == y)
    return order


def place_locality(p: PlacementProblem) -> dict[str, int]:
    order = serpentine_pes(p.spec, p.free_pes)
    out: dict[str, int] = {}
    # host-facing programs first (they come first in the walk: the bridge QPE)
    host_facing = [s for s in p.slice_ids if p.slice_layer[s] in (-1, max(p.slice_layer.values()))]
    rest = [s for s in p.slice_ids if s not in host_facing]
    for s, pe in zip(host_facing + rest, order, strict=False):
        out[s] = pe
    return out


def place_linear(p: PlacementProblem) -> dict[str, int]:
    return dict(zip(p.slice_ids, p.free_pes, strict=False))


def place_random(p: PlacementProblem) -> dict[str, int]:
    rng = np.random.default_rng(p.seed)
    pes = list(rng.permutation(p.free_pes))
    return {s: int(pe) for s, pe in zip(p.slice_ids, pes, strict=False)}


Placer = Callable[[PlacementProblem], dict[str, int]]
PLACERS: dict[str, Placer] = {
    "locality": place_locality,
    "linear": place_linear,
    "random": place_random,
}


def register_placer(name: str, fn: Placer) -> None:
    PLACERS[name] = fn


def get_placer(p) -> tuple[str, Placer]:
    if isinstance(p, dict):
        table = {str(k): int(v) for k, v in p.items()}
        return "table", lambda prob: {s: table[s] for s in prob.slice_ids if s in table}
    if callable(p):
        return getattr(p, "__name__", "user"), p
    if p not in PLACERS:
        raise CompileError(f"placer {p!r} unknown: choose one of {', '.join(PLACERS)}, pass a "
                           "function or a {slice_id: pe_id} table")
    return p, PLACERS[p]
