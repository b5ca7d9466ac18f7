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

from s2sim.compiler import keys as K
from s2sim.errors import RoutingError

__all__ = ["Route", "compress_routes", "check_table"]


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
