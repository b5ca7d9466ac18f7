"""Multicast key layout (32-bit keys; the payload carries the graded value as float32).

    bits 31..24  source id: 0 = input source, 1 + l = EGRU layer l, 0xFE = host -> input PE;
                 with the decoder on the chip: 0xFD = host -> decoder block (a token), 0xFC =
                 decoder block -> input PE (the token's embedding values), 0xFB = decoder block
                 -> readout (the block's best logit)
    bits 23..14  slice index within the source layer (up to 1,024 slices per layer: the paper
                 shape at 4x width has 553 in its first layer)
    bit  13      step parity (the tick the packet was sent in, mod 2)
    bits 12..0   unit index local to the slice (up to 8,192 units or decoder rows per slice;
                 SRAM bounds both far below: a decoder row needs >= 12 bytes, a unit more)

Routing entries match source id + slice (mask 0xFFFFC000) or aligned blocks of slices after
compression; parity and unit are "don't care" for the router, so one entry per source slice
covers all of its units and both parities. The receiver uses the parity bit to put a packet into
the accumulator of the step it belongs to, and to detect late packets (sent in a step it has
already closed).
"""

from __future__ import annotations

import numpy as np

SRC_SHIFT = 24
SLICE_SHIFT = 14
PARITY_BIT = 13
UNIT_MASK = 0x1FFF
SLICE_MASK = 0x3FF
HOST_SRC = 0xFE
TOKEN_SRC = 0xFD
EMBED_SRC = 0xFC
DECODER_SRC = 0xFB
INPUT_SRC = 0
MAX_SLICES = SLICE_MASK + 1
MAX_UNITS_PER_SLICE = UNIT_MASK + 1
SLICE_ENTRY_MASK = 0xFF000000 | (SLICE_MASK << SLICE_SHIFT)


def egru_src(layer: int) -> int:
    return 1 + layer


def key_base(src: int, slice_index: int) -> int:
    return (src << SRC_SHIFT) | (slice_index << SLICE_SHIFT)


def make_keys(base: int, local_units: np.ndarray, parity: int) -> np.ndarray:
    # one uint32 scalar and one OR: a slice sends from a user event at every step
    return np.asarray(local_units, np.uint32) | np.uint32(base | ((parity & 1) << PARITY_BIT))


def decode(keys: np.ndarray):
    """keys (n,) uint32 -> (src, slice, parity, local unit) as int64 arrays."""
    k = np.asarray(keys, np.uint32).astype(np.int64)
    return (k >> SRC_SHIFT) & 0xFF, (k >> SLICE_SHIFT) & SLICE_MASK, (k >> PARITY_BIT) & 1, \
        k & UNIT_MASK
