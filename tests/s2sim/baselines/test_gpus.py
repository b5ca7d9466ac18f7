import pytest

from s2sim.baselines.gpus import GPUS, load_gpus
from s2sim.errors import S2SimError

_ONE = """
gpus:
  x:
    name: X
    memory_bandwidth_bytes_per_s: {value: 1.0e+12, source: DS}
    fp32_peak_flops_per_s: {value: 1.0e+13, source: DS}
    board_power_w: {value: 300, source: DS}
    idle_power_w: {value: 30.0, source: EST, note: guess, low: 20.0, high: 40.0}
    kernel_launch_s: {value: 5.0e-6, source: EST, note: guess}
    bandwidth_efficiency: {value: 0.8, source: EST, note: guess}
"""


def test_bundled_table_loads_every_gpu_with_floats():
    assert list(GPUS) == ["a100", "h100", "h200", "rtx4090", "orin"]
    for key, gpu in GPUS.items():
        assert gpu.key == key
        assert all(isinstance(n["value"], float) for n in gpu.sources().values())


def test_yaml_entry_becomes_a_gpu_spec():
    gpu = load_gpus(_ONE)["x"]
    assert gpu.board_power_w.value == 300.0 and isinstance(gpu.board_power_w.value, float)
    assert (gpu.idle_power_w.lo, gpu.idle_power_w.hi) == (20.0, 40.0)
    assert gpu.memory_bound_power_w is None and gpu.graph_launch_s is None


@pytest.mark.parametrize("text, words", [
    ("gpus: []", "top-level mapping"),
    (_ONE.replace("board_power_w: {value: 300, source: DS}", ""), "board_power_w"),
    (_ONE.replace("{value: 300, source: DS}", "300"), "board_power_w: expected {value"),
    (_ONE.replace("value: 300,", "value: 3e2,"), "expected a number"),
    (_ONE.replace("source: EST, note: guess, low", "source: EST, nte: guess, low"), "'nte'"),
    (_ONE.replace("low: 20.0", "low: 35.0"), "does not hold the value"),
    (_ONE.replace("    name: X\n", "    name: X\n    colour: green\n"), "'colour'"),
])
def test_bad_table_is_a_one_line_error(text, words):
    with pytest.raises(S2SimError, match=None) as err:
        load_gpus(text)
    assert words in str(err.value) and "\n" not in str(err.value)
