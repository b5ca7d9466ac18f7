"""The public calibration points and the model's error against each (docs/bench.md quotes them)."""

import pytest

from s2sim.baselines.gpus import GPUS
from s2sim.baselines.measurements import MEASUREMENTS, calibration_rows, main


def test_every_point_names_a_modelled_gpu_and_a_source():
    assert len(MEASUREMENTS) >= 3
    for m in MEASUREMENTS:
        assert m.gpu_key in GPUS
        assert m.source and m.workload and m.measured_power_w > 0
        assert 0.0 <= m.share() <= 1.0


@pytest.mark.parametrize("m", MEASUREMENTS, ids=lambda m: f"{m.gpu_key}-{m.measured_power_w}")
def test_model_within_10_percent_of_each_public_measurement(m):
    assert abs(m.error()) <= 0.10, (m.source, m.modelled_power_w())


def test_model_power_of_a_point_is_idle_plus_busy_share_of_the_memory_bound_part():
    m = next(m for m in MEASUREMENTS if m.gpu_key == "rtx4090")
    g = GPUS["rtx4090"]
    bw = g.memory_bandwidth_bytes_per_s.value * g.bandwidth_efficiency.value
    u = m.bytes_per_token * m.tokens_per_s / bw
    idle = g.idle_power_w.value
    assert m.modelled_power_w() == pytest.approx(idle + (g.memory_bound_power_w.value - idle) * u)


def test_batch1_measurements_sit_well_below_board_power():
    for m in MEASUREMENTS:
        if m.batch == 1:
            assert m.measured_power_w < 0.6 * GPUS[m.gpu_key].board_power_w.value


def test_secondary_points_are_flagged_and_the_table_prints(capsys):
    assert any(not m.primary for m in MEASUREMENTS)
    assert main() == 0
    out = capsys.readouterr().out
    assert out.count("\n") == len(calibration_rows()) + 2
    assert "(secondary)" in out
