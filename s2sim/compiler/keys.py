"""The multicast key layout lives with the firmware (``firmware_py.keys``), which encodes and
decodes keys; the compiler allocates them with the same definitions."""

from firmware_py.keys import *  # noqa: F401,F403
from firmware_py.keys import (  # noqa: F401
    HOST_SRC,
    INPUT_SRC,
    MAX_SLICES,
    MAX_UNITS_PER_SLICE,
    PARITY_BIT,
    SLICE_ENTRY_MASK,
    SLICE_MASK,
    SLICE_SHIFT,
    SRC_SHIFT,
    UNIT_MASK,
    decode,
    egru_src,
    key_base,
    make_keys,
)
