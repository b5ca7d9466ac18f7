"""Multicast key layout (32-bit keys; the payload carries the graded value as float32).

    bits 31..24  source id: 0 = input source, 1 + l = EGRU layer l, 0xFE = host -> input PE;
                 with the decoder on the chip: 0xFD = host -> decoder block (a token), 0xFC =
                 decoder block -> input PE (the token's embedding values), 0xFB = decoder block
                 -> readout (the block's best logit)
    bits 23..16  slice index within the source layer (up to 256 slices per layer)
    bit  15      step parity (the tick the packet was sent in, mod 2)
    bits 14..0   unit index local to the slice (up to 32,768 units per slice)

Routing entries match source id + slice (mask 0xFFFF0000) or aligned blocks of slices after
compression; parity and unit are "don't care" for the router, so one entry per source slice
covers all of its units and both parities. The receiver uses the parity bit to put a packet into
the accumulator of the step it belongs to, and to detect late packets (sent in a step it has
already closed).
"""

from __future__ import annotations

import numpy as np

SRC_SHIFT = 24
SLICE_SHIFT = 16
PARITY_BIT = 15
UNIT_MASK = 0x7FFF
SLICE_MASK = 0xFF
HOST_SRC = 0xFE
TOKEN_SRC = 0xFD
EMBED_SRC = 0xFC
DECODER_SRC = 0xFB
INPUT_SRC = 0
MAX_SLICES = 256
MAX_UNITS_PER_SLICE = UNIT_MASK + 1
SLICE_ENTRY_MASK = 0xFFFF0000


def egru_src(layer: int) -> int:
    return 1 + layer


def key_base(src: int, slice_index: int) -> int:
    return (src << SRC_SHIFT) | (slice_index << SLICE_SHIFT)


def make_keys(base: int, local_units: np.ndarray, parity: int) -> np.ndarray:
    return (np.uint32(base) | np.uint32((parity & 1) << PARITY_BIT)
            | np.asarray(local_units, np.uint32)).astype(np.uint32)


def decode(keys: np.ndarray):
    """keys (n,) uint32 -> (src, slice, parity, local unit) as int64 arrays."""
    k = np.asarray(keys, np.uint32).astype(np.int64)
    return (k >> SRC_SHIFT) & 0xFF, (k >> SLICE_SHIFT) & SLICE_MASK, (k >> PARITY_BIT) & 1, \
        k & UNIT_MASK
