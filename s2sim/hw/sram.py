"""Per-PE SRAM allocator: named regions, alignment, and errors that name PE, region and bytes.

The budget is the PE's data SRAM (``spec.memory.data_sram_bytes``); code lives in its own
region (``spec.memory.code_sram_bytes``), checked separately against a program's ``code_bytes``.
The allocator is a bump allocator: SpiNNaker applications lay out their data regions once at
load time and never free them, so fragmentation does not arise.
"""

from __future__ import annotations

from dataclasses import dataclass

from s2sim.errors import ResourceError
from s2sim.spec.models import decode_pe_id


def pe_label(pe_id: int) -> str:
    """``PE 0x4d (qx 2, qy 3, p 1)`` — how every error names a PE."""
    pe_id = int(pe_id)
    qx, qy, p = decode_pe_id(pe_id)
    return f"PE {pe_id:#04x} (qx {qx}, qy {qy}, p {p})"


@dataclass(frozen=True)
class Region:
    name: str
    offset_bytes: int
    size_bytes: int

    @property
    def end_bytes(self) -> int:
        return self.offset_bytes + self.size_bytes


class SramAllocator:
    """Data-SRAM regions of one PE."""

    def __init__(self, pe_id: int, capacity_bytes: int, alignment_bytes: int = 16,
                 code_capacity_bytes: int = 0):
        self.pe_id = int(pe_id)
        self.capacity_bytes = int(capacity_bytes)
        self.alignment_bytes = int(alignment_bytes)
        self.code_capacity_bytes = int(code_capacity_bytes)
        self.code_bytes = 0
        self.regions: dict[str, Region] = {}
        self._top = 0

    @property
    def used_bytes(self) -> int:
        return self._top

    @property
    def free_bytes(self) -> int:
        return self.capacity_bytes - self._top

    def alloc(self, name: str, nbytes: int, align: int | None = None) -> Region:
        """Reserve ``nbytes`` for region ``name`` (aligned); ResourceError if it does not fit."""
        who = pe_label(self.pe_id)
        if not isinstance(name, str) or not name:
            raise ResourceError(f"{who}: SRAM region name must be a non-empty string, got {name!r}")
        if name in self.regions:
            raise ResourceError(f"{who}: SRAM region {name!r} allocated twice")
        if isinstance(nbytes, bool) or int(nbytes) != nbytes or nbytes < 0:
            raise ResourceError(
                f"{who}: SRAM region {name!r} size must be a non-negative integer, got {nbytes!r}"
            )
        nbytes = int(nbytes)
        a = int(align or self.alignment_bytes)
        if a <= 0 or a & (a - 1):
            raise ResourceError(f"{who}: SRAM region {name!r} alignment {a} is not a power of two")
        offset = -(-self._top // a) * a
        if offset + nbytes > self.capacity_bytes:
            free = max(0, self.capacity_bytes - offset)
            raise ResourceError(
                f"{who}: SRAM region {name!r} needs {nbytes:,} bytes but only {free:,} bytes are "
                f"free (data SRAM {self.capacity_bytes:,} bytes, {self._top:,} used by "
                f"{len(self.regions)} region(s))"
            )
        region = Region(name, offset, nbytes)
        self.regions[name] = region
        self._top = offset + nbytes
        return region

    def alloc_code(self, nbytes: int, program: str = "program") -> None:
        """Check a program's code size against the code SRAM."""
        nbytes = int(nbytes)
        if nbytes < 0 or nbytes > self.code_capacity_bytes:
            raise ResourceError(
                f"{pe_label(self.pe_id)}: code of {program!r} needs {nbytes:,} bytes but the code "
                f"SRAM holds {self.code_capacity_bytes:,} bytes"
            )
        self.code_bytes = nbytes

    def __getitem__(self, name: str) -> Region:
        try:
            return self.regions[name]
        except KeyError:
            raise ResourceError(
                f"{pe_label(self.pe_id)}: no SRAM region {name!r} (regions: "
                f"{', '.join(self.regions) or 'none'})"
            ) from None

    def __contains__(self, name: str) -> bool:
        return name in self.regions
