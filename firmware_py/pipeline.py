"""The time-step scheme: one step (token / frame) per tick, pipelined across layers.

The host sends step t's input to the input-source PE during tick interval t; the input source
emits it as events at tick t+1; EGRU layer l updates step t at tick t+2+l (consuming the events
layer l-1 sent in the previous tick and its own events of the step before); the readout collects
the last layer's events and sends step t to the host at tick t+2+L. A new step enters every tick.
With the decoder on the chip (``--decoder chip``) the token's embedding reaches the input source
in the same tick interval t (from the decoder block holding its row, ``firmware_py.kinds.
decoder``), the decoder blocks take the last layer's place as the stage after it (tick t+2+L:
their logits and best row) and the readout, one tick later, sends step t's token at t+3+L.
This module is the one home of those offsets: the compiler, the programs and both engines read
them from here.
"""

from __future__ import annotations

__all__ = ["INPUT_FIRST_TICK", "layer_first_tick", "decoder_first_tick", "readout_first_tick",
           "run_ticks", "pipeline_ticks"]

INPUT_FIRST_TICK = 1  # the input source emits step t at tick t + 1


def layer_first_tick(layer: int) -> int:
    """Tick at which EGRU layer ``layer`` updates step 0 (step t: this + t)."""
    return int(layer) + 2


def decoder_first_tick(n_layers: int) -> int:
    """Tick at which the on-chip decoder blocks close step 0 (the stage after the last layer)."""
    return layer_first_tick(n_layers)


def readout_first_tick(n_layers: int, chip_decoder: bool = False) -> int:
    """Tick at which the readout sends step 0 to the host (step t: this + t)."""
    return int(n_layers) + 2 + int(bool(chip_decoder))


def run_ticks(n_steps: int, n_layers: int, chip_decoder: bool = False) -> int:
    """Ticks a run of ``n_steps`` steps takes until the readout has sent the last one."""
    return int(n_steps) + readout_first_tick(n_layers, chip_decoder)


def pipeline_ticks(n_layers: int, chip_decoder: bool = False) -> int:
    """Ticks from a step's input emission to its output reaching the readout."""
    return readout_first_tick(n_layers, chip_decoder) - INPUT_FIRST_TICK
