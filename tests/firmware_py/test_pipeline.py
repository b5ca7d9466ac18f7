"""The time-step scheme's offsets."""

from firmware_py.pipeline import (
    INPUT_FIRST_TICK,
    layer_first_tick,
    pipeline_ticks,
    readout_first_tick,
    run_ticks,
)


def test_offsets_follow_the_layers():
    L = 3
    assert INPUT_FIRST_TICK < layer_first_tick(0) < layer_first_tick(L - 1) < readout_first_tick(L)
    assert layer_first_tick(0) == INPUT_FIRST_TICK + 1
    assert readout_first_tick(L) == layer_first_tick(L - 1) + 1
    assert pipeline_ticks(L) == readout_first_tick(L) - INPUT_FIRST_TICK == L + 1


def test_run_ends_when_the_readout_sent_the_last_step():
    assert run_ticks(10, 3) == 10 + 5  # step 9 leaves the readout at tick 9 + 5
    assert run_ticks(1, 1) - 1 == readout_first_tick(1)
