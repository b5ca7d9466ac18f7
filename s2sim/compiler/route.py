"""Routing: keys per source slice, multicast entries (key/mask -> PEs), compression, the hard
check against the router's table size.

Before compression there is one entry per sending slice (its key block, mask 0xFFFF0000) plus one
for the host -> input-source channel. Compression, per source id: slices with the same destination
set are covered by the fewest aligned power-of-two blocks of slice indices, where indices no slice
of that source uses count as "don't care" (no packet carries them, so covering them cannot
misroute anything); blocks never cover an index whose slice has a different destination set.
First match wins in the router, and compressed entries never overlap on a used key, so order
does not matter.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from firmware_py import keys as K
from s2sim.errors import RoutingError

__all__ = ["Route", "Routing", "compress_routes", "check_table", "slice_routes", "route_network"]


class Route(tuple):
    """(key, mask, pes: tuple[int, ...], sources: tuple[str, ...])."""

    __slots__ = ()

    def __new__(cls, key: int, mask: int, pes, sources):
        return super().__new__(cls, (int(key), int(mask), tuple(sorted(int(p) for p in pes)),
                                     tuple(sources)))

    key = property(lambda self: self[0])
    mask = property(lambda self: self[1])
    pes = property(lambda self: self[2])
    sources = property(lambda self: self[3])


def compress_routes(routes: list[Route]) -> list[Route]:
    """Merge per-slice entries of one source id with equal destinations into aligned blocks."""
    by_src: dict[int, list[Route]] = defaultdict(list)
    other: list[Route] = []
    for r in routes:
        if r.mask == K.SLICE_ENTRY_MASK:
            by_src[r.key >> K.SRC_SHIFT].append(r)
        else:
            other.append(r)
    out = list(other)
    for src in sorted(by_src):
        entries = by_src[src]
        owner: dict[int, tuple[int, ...]] = {}
        names: dict[int, str] = {}
        for r in entries:
            idx = (r.key >> K.SLICE_SHIFT) & K.SLICE_MASK
            owner[idx] = r.pes
            names[idx] = r.sources[0] if r.sources else f"{src}.{idx}"
        groups: dict[tuple[int, ...], set[int]] = defaultdict(set)
        for idx, pes in owner.items():
            groups[pes].add(idx)
        for pes in sorted(groups, key=lambda g: min(groups[g])):
            remaining = set(groups[pes])
            for k in range(8, -1, -1):
                size = 1 << k
                for base in range(0, K.MAX_SLICES, size):
                    if not remaining:
                        break
                    block = range(base, base + size)
                    if not any(i in remaining for i in block):
                        continue
                    if any(i in owner and owner[i] != pes for i in block):
                        continue
                    covered = [i for i in block if i in remaining]
                    remaining.difference_update(covered)
                    mask = 0xFF000000 | (((0xFF << k) & 0xFF) << K.SLICE_SHIFT)
                    out.append(Route(K.key_base(src, base), mask, pes,
                                     [names[i] for i in sorted(covered)]))
    return sorted(out, key=lambda r: (r.key, r.mask))


def check_table(n_after: int, n_before: int, table_entries: int) -> None:
    if n_after > table_entries:
        raise RoutingError(
            f"routing table overflow: {n_after} entries after compression ({n_before} before), "
            f"the router holds {table_entries} (spec router.table_entries)")


# -- the stage ----------------------------------------------------------------------------------

@dataclass
class Routing:
    """The routing stage's output: the compressed table and how many entries it had before."""

    routes: list[Route]
    routes_before: int
    table_entries: int


def _fold_units(M: np.ndarray, H: int) -> np.ndarray:
    """(rows, H) float32: 1 where a row has a nonzero weight in any gate of the unit."""
    nz = M != 0
    return (nz[:, :H] | nz[:, H:2 * H] | nz[:, 2 * H:]).astype(np.float32)


def _block_any(rows_slices: list[np.ndarray], Mu: np.ndarray,
               cols_slices: list[np.ndarray]) -> np.ndarray:
    """(n_row_slices, n_col_slices) bool: any nonzero of Mu in the block."""
    n_rows, n_cols = Mu.shape
    S = np.zeros((len(rows_slices), n_rows), np.float32)
    for a, r in enumerate(rows_slices):
        S[a, r] = 1
    T = np.zeros((n_cols, len(cols_slices)), np.float32)
    for b, c in enumerate(cols_slices):
        T[c, b] = 1
    return (S @ Mu @ T) > 0


def slice_routes(network, parts: list[list[np.ndarray]], key_of: dict[str, int],
                 placed: dict[str, int]) -> list[Route]:
    """One entry per sending slice (uncompressed): its key block to the PEs of every slice that
    holds a nonzero weight of one of its units, plus the host -> input-source channel.
    ``key_of``: slice id -> key base; ``placed``: slice id -> PE."""
    L = len(network.layers)
    blocks = sorted((sid for sid in placed if sid.startswith("D.S")), key=lambda x: int(x[3:]))
    if blocks:  # the decoder on the chip: tokens to their blocks, embedding values to the input
        routes = [Route(K.key_base(K.TOKEN_SRC, int(b[3:])), K.SLICE_ENTRY_MASK, [placed[b]],
                        ["host"]) for b in blocks]
        routes.append(Route(K.key_base(K.EMBED_SRC, 0), 0xFF000000, [placed["input"]], blocks))
        routes += [Route(key_of[b], K.SLICE_ENTRY_MASK, [placed["readout"]], [b])
                   for b in blocks if b in key_of]
    else:
        routes = [Route(K.key_base(K.HOST_SRC, 0), 0xFF000000, [placed["input"]], ["host"])]
    # input source -> layer 0 slices with any nonzero W row
    Wu0 = _fold_units(network.layers[0].W, network.layers[0].hidden)
    any0 = _block_any([np.arange(network.input.n_out)], Wu0, parts[0])[0]
    pes = {placed[f"L0.S{b}"] for b in np.flatnonzero(any0)}
    if pes:
        routes.append(Route(key_of["input"], K.SLICE_ENTRY_MASK, pes, ["input"]))
    for i in range(L):
        H = network.layers[i].hidden
        rec = _block_any(parts[i], _fold_units(network.layers[i].R, H), parts[i])
        nxt = None
        if i + 1 < L:
            nxt = _block_any(parts[i], _fold_units(network.layers[i + 1].W,
                                                   network.layers[i + 1].hidden), parts[i + 1])
        for k in range(len(parts[i])):
            pes = {placed[f"L{i}.S{b}"] for b in np.flatnonzero(rec[k])}
            if nxt is not None:
                pes |= {placed[f"L{i + 1}.S{b}"] for b in np.flatnonzero(nxt[k])}
            if i == L - 1:  # the decoder's blocks (every column has rows in each) or readout
                pes |= {placed[b] for b in blocks} if blocks else {placed["readout"]}
            if pes:
                routes.append(Route(key_of[f"L{i}.S{k}"], K.SLICE_ENTRY_MASK, pes,
                                    [f"L{i}.S{k}"]))
    return routes


def route_network(network, parts: list[list[np.ndarray]], infos, placed: dict[str, int],
                  spec) -> Routing:
    """Route, compress and check the table; a slice nobody consumes is left without a key (it
    sends nothing)."""
    key_of = {s.id: s.key_base for s in infos if s.key_base is not None}
    routes = slice_routes(network, parts, key_of, placed)
    compressed = compress_routes(routes)
    table = int(spec.router.table_entries.value)
    check_table(len(compressed), len(routes), table)
    routed_sources = {src for r in compressed for src in r.sources}
    for s in infos:
        if s.key_base is not None and s.id not in routed_sources:
            s.key_base = None
    return Routing(routes=compressed, routes_before=len(routes), table_entries=table)
