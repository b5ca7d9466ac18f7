"""The event router's key/mask table (SpiNNaker's multicast TCAM).

An entry ``(key, mask)`` matches a packet key ``k`` when ``k & mask == key``; the first matching
entry in insertion order wins (DS, CP, MC). A match resolves to a set of local PEs and a set of
chip links. The table holds at most ``spec.router.table_entries`` (16,384) entries; one more is a
``RoutingError``. A packet whose key matches no entry is a ``RoutingError`` naming the key and
the sending PE: we model it as an error rather than a silent drop, because on SpiNNaker an
unrouted multicast packet is dropped by default and that has been a classic source of silent bugs
(see docs/chip.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from s2sim.errors import RoutingError

MASK32 = 0xFFFFFFFF


@dataclass(frozen=True)
class RouteEntry:
    key: int
    mask: int
    pes: frozenset[int]
    links: frozenset[int]


class RoutingTable:
    """First-match key/mask table with a hard size limit."""

    def __init__(self, capacity: int, pe_ids, chip_links: int):
        self.capacity = int(capacity)
        self._pe_set = frozenset(int(p) for p in pe_ids)
        self.chip_links = int(chip_links)
        self.entries: list[RouteEntry] = []
        self._keys = np.zeros(max(self.capacity, 1), dtype=np.uint32)
        self._masks = np.zeros(max(self.capacity, 1), dtype=np.uint32)
        self.version = 0  # bumped on every change, so route caches know to refresh
        self.frozen = False  # set when the chip runs: the table is fixed during a run

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, key: int, mask: int, pes=(), links=()) -> int:
        """Append an entry; returns its index. ``pes`` are PE ids, ``links`` chip-link numbers."""
        key, mask = _u32(key, "key"), _u32(mask, "mask")
        if self.frozen:
            raise RoutingError(f"routing entry key {key:#010x}: the table cannot change after "
                               f"chip.run()")
        if key & ~mask & MASK32:
            raise RoutingError(
                f"routing entry key {key:#010x} has bits outside mask {mask:#010x} "
                f"(key & ~mask = {key & ~mask & MASK32:#010x}); it could never match"
            )
        n = len(self.entries)
        if n >= self.capacity:
            raise RoutingError(
                f"routing table full: entry {n + 1:,} (key {key:#010x}, mask {mask:#010x}) "
                f"exceeds router.table_entries = {self.capacity:,}"
            )
        pe_set = frozenset(int(p) for p in pes)
        bad = sorted(pe_set - self._pe_set)
        if bad:
            raise RoutingError(
                f"routing entry key {key:#010x}: destination PE id(s) {bad[:5]} are not PEs of "
                f"this chip"
            )
        link_set = frozenset(int(x) for x in links)
        bad_links = sorted(x for x in link_set if not 0 <= x < self.chip_links)
        if bad_links:
            raise RoutingError(
                f"routing entry key {key:#010x}: chip link(s) {bad_links} do not exist "
                f"(links 0..{self.chip_links - 1})"
            )
        if not pe_set and not link_set:
            raise RoutingError(f"routing entry key {key:#010x} has no destination PE or link")
        self.entries.append(RouteEntry(key, mask, pe_set, link_set))
        self._keys[n] = key
        self._masks[n] = mask
        self.version += 1
        return n

    def match(self, key: int) -> int:
        """Index of the first entry matching ``key``, or -1."""
        n = len(self.entries)
        if n == 0:
            return -1
        k = np.uint32(int(key) & MASK32)
        hits = np.flatnonzero((k & self._masks[:n]) == self._keys[:n])
        return int(hits[0]) if hits.size else -1

    def key_bits(self) -> int:
        """The bits any entry looks at (OR of the masks): ``match(k) == match(k & key_bits())``
        (an entry's key lies within its mask), so route caches can be keyed by ``k & bits``."""
        n = len(self.entries)
        return int(np.bitwise_or.reduce(self._masks[:n])) if n else 0

    def lookup(self, key: int, sender: str = "host") -> RouteEntry:
        """The first matching entry; RoutingError naming the key and ``sender`` otherwise."""
        i = self.match(key)
        if i < 0:
            raise RoutingError(
                f"key {int(key) & MASK32:#010x} sent by {sender} matches no routing entry "
                f"({len(self.entries):,} entries)"
            )
        return self.entries[i]


def _u32(v, what: str) -> int:
    if isinstance(v, bool) or int(v) != v or not 0 <= int(v) <= MASK32:
        raise RoutingError(f"routing entry {what} {v!r} is not a 32-bit unsigned integer")
    return int(v)
