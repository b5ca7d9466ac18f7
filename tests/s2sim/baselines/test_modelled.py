"""The analytic GPU model: known arithmetic on hand-made GPUs and kernels."""

import pytest

from s2sim.baselines.gpus import GPUS, GpuSpec, SourcedNumber, parse_gpu_list
from s2sim.baselines.modelled import kernel_cost, model_gpu
from s2sim.baselines.result import SEQUENCE_TOKENS
from s2sim.baselines.workload import Kernel, LMShape, paper_shape, token_kernels
from s2sim.errors import S2SimError


def _gpu(bw=1e12, peak=1e13, board=300.0, idle=50.0, launch=5e-6, eff=1.0):
    def s(v):
        return SourcedNumber(v, "TEST")

    return GpuSpec("t", "test gpu", s(bw), s(peak), s(board), s(idle), s(launch), s(eff))


def test_memory_bound_kernel_arithmetic():
    gpu = _gpu()
    # 1e6 bytes at 1e12 B/s = 1 us; 1e3 flops at 1e13 = 0.1 ns -> memory bound
    t, busy, e = kernel_cost(Kernel("k", "x", 1_000_000, 1000), gpu)
    assert busy == pytest.approx(1e-6)
    assert t == pytest.approx(6e-6)
    # idle 50 W for 6 us + (300-50) W for the 1 us busy share
    assert e == pytest.approx(50 * 6e-6 + 250 * 1e-6)


def test_compute_bound_kernel_and_efficiency():
    gpu = _gpu(bw=1e12, peak=1e12, eff=0.5)
    # 1e6 bytes at 0.5e12 = 2 us; 4e6 flops at 1e12 = 4 us -> compute bound
    t, busy, _ = kernel_cost(Kernel("k", "x", 1_000_000, 4_000_000), gpu)
    assert busy == pytest.approx(4e-6)
    assert t == pytest.approx(9e-6)


def test_token_kernels_of_a_tiny_shape():
    shape = LMShape("tiny", vocab_size=10, embedding_dim=4, hidden_sizes=(6, 4))
    ks = token_kernels(shape)
    assert [k.name for k in ks] == [
        "embedding",
        "egru0.input_matmul", "egru0.recurrent_matmul", "egru0.gates",
        "egru1.input_matmul", "egru1.recurrent_matmul", "egru1.gates",
        "decoder", "softmax",
    ]
    by = {k.name: k for k in ks}
    # input matmul of layer 0: W (4 x 18) + x (4) + bias (18) + out (18) floats
    assert by["egru0.input_matmul"].bytes_moved == (4 * 18 + 4 + 18 + 18) * 4
    assert by["egru0.input_matmul"].flops == 2 * 4 * 18 + 18
    assert by["egru1.recurrent_matmul"].bytes_moved == (4 * 12 + 4 + 12 + 12) * 4
    assert by["decoder"].bytes_moved == (4 * 10 + 4 + 10 + 10) * 4


def test_model_totals_are_sums_of_kernels_and_sequence_is_70_tokens():
    gpu = _gpu()
    shape = paper_shape()
    r = model_gpu(shape, gpu)
    ks = token_kernels(shape)
    assert r.kernels_per_token == len(ks) == 12
    t = sum(kernel_cost(k, gpu)[0] for k in ks)
    e = sum(kernel_cost(k, gpu)[2] for k in ks)
    assert r.latency_per_token_s == pytest.approx(t)
    assert r.energy_per_token_j == pytest.approx(e)
    assert r.average_power_w == pytest.approx(e / t)
    assert gpu.idle_power_w.value < r.average_power_w < gpu.board_power_w.value
    assert r.latency_per_sequence_s == pytest.approx(SEQUENCE_TOKENS * t)
    assert sum(r.energy_by_component_j.values()) == pytest.approx(e)
    assert set(r.energy_by_component_j) == {"embedding", "egru", "decoder", "softmax"}
    assert r.label == "modelled"


def test_paper_shape_streams_its_dense_weights():
    # 3 EGRU layers + tied decoder, float32: (750+1350)*4050 + 2700*4050 + 2100*2250 + 750*33278
    weights = (2100 * 4050 + 2700 * 4050 + 2100 * 2250 + 750 * 33278) * 4
    r = model_gpu(paper_shape(), GPUS["a100"])
    assert weights < r.bytes_per_token < weights * 1.01
    # memory bound: at least the weight bytes at datasheet bandwidth
    assert r.latency_per_token_s > weights / GPUS["a100"].memory_bandwidth_bytes_per_s.value


def test_gpu_table_has_sources_and_the_required_gpus():
    assert {"a100", "h100", "h200", "rtx4090", "orin"} <= set(GPUS)
    for g in GPUS.values():
        for name, entry in g.sources().items():
            assert entry["source"], (g.key, name)
            if entry["source"] == "EST":
                assert entry["note"], (g.key, name)


def test_est_number_needs_a_note():
    with pytest.raises(ValueError):
        SourcedNumber(1.0, "EST")


def test_parse_gpu_list():
    assert [g.key for g in parse_gpu_list("a100,orin")] == ["a100", "orin"]
    assert parse_gpu_list("none") == []
    assert len(parse_gpu_list("all")) == 5
    with pytest.raises(S2SimError, match="unknown GPU 'v100'"):
        parse_gpu_list("a100,v100")


# -- power curve, band, CUDA graph, H200 ---------------------------------------------------------


def _gpu3(mem_w=150.0, graph=1e-6, **kw):
    def s(v, lo=None, hi=None):
        return SourcedNumber(v, "TEST", low=lo, high=hi)

    base = _gpu(**kw)
    return GpuSpec("t", "test gpu", base.memory_bandwidth_bytes_per_s, base.fp32_peak_flops_per_s,
                   s(300.0, 250.0, 300.0), s(50.0, 40.0, 60.0), s(5e-6, 4e-6, 8e-6),
                   s(0.8, 0.75, 0.9), memory_bound_power_w=s(mem_w, 120.0, 180.0),
                   graph_launch_s=s(graph, 0.5e-6, 1.5e-6))


def test_memory_bound_kernel_draws_memory_bound_power():
    gpu = _gpu3()
    # 0.8e6 bytes at 1e12 x 0.8 = 1 us busy, memory bound; 5 us launch
    t, busy, e = kernel_cost(Kernel("k", "x", 800_000, 1000), gpu)
    assert busy == pytest.approx(1e-6) and t == pytest.approx(6e-6)
    assert e == pytest.approx(50 * 6e-6 + (150 - 50) * 1e-6)


def test_compute_bound_kernel_draws_board_power():
    gpu = _gpu3()
    # 1e5 flops at 1e13 = 10 ns > 8 bytes at 0.8e12: compute bound -> board power 300 W
    t, busy, e = kernel_cost(Kernel("k", "x", 8, 100_000), gpu)
    assert busy == pytest.approx(1e-8)
    assert e == pytest.approx(50 * t + (300 - 50) * busy)


def test_graph_mode_uses_the_graph_launch_cost():
    gpu = _gpu3()
    t, busy, _ = kernel_cost(Kernel("k", "x", 800_000, 0), gpu, mode="graph")
    assert t == pytest.approx(busy + 1e-6)


def test_band_corners_take_each_range_at_its_favourable_end():
    from s2sim.baselines.modelled import corner_params

    gpu = _gpu3()
    lo, hi = corner_params(gpu, "low"), corner_params(gpu, "high")
    assert lo.bandwidth == pytest.approx(1e12 * 0.9) and hi.bandwidth == pytest.approx(1e12 * 0.75)
    assert (lo.idle_w, lo.memory_bound_w, lo.launch_s) == (40.0, 120.0, 4e-6)
    assert (hi.idle_w, hi.memory_bound_w, hi.launch_s) == (60.0, 180.0, 8e-6)
    with pytest.raises(ValueError):
        corner_params(gpu, "middle")


def test_band_arithmetic_on_one_kernel():
    from s2sim.baselines.modelled import model_kernels

    gpu = _gpu3()
    k = Kernel("k", "x", 900_000, 0)
    r = model_kernels([k], gpu, "m", 70, [])
    # low: 0.9e6 B / 0.9e12 = 1 us + 4 us launch; 40 W x 5 us + 80 W x 1 us
    assert r.latency_per_token_low_s == pytest.approx(5e-6)
    assert r.energy_per_token_low_j == pytest.approx(40 * 5e-6 + 80 * 1e-6)
    # high: 0.9e6 / 0.75e12 = 1.2 us + 8 us; 60 W x 9.2 us + 120 W x 1.2 us
    assert r.latency_per_token_high_s == pytest.approx(9.2e-6)
    assert r.energy_per_token_high_j == pytest.approx(60 * 9.2e-6 + 120 * 1.2e-6)
    assert r.energy_per_sequence_high_j == pytest.approx(70 * r.energy_per_token_high_j)
    assert r.average_power_low_w <= r.average_power_w <= r.average_power_high_w


@pytest.mark.parametrize("key", sorted(GPUS))
def test_every_gpu_has_an_eager_and_a_graph_row_with_a_band(key):
    from s2sim.baselines.modelled import model_gpus

    rows = model_gpus(paper_shape(), [GPUS[key]])
    assert [r.gpu_key for r in rows] == [key, f"{key}-graph"]
    assert [r.label for r in rows] == ["modelled", "modelled, CUDA graph"]
    eager, graph = rows
    assert graph.latency_per_token_s < eager.latency_per_token_s
    assert graph.energy_per_token_j < eager.energy_per_token_j
    for r in rows:
        assert r.latency_per_token_low_s < r.latency_per_token_s < r.latency_per_token_high_s
        assert r.energy_per_token_low_j < r.energy_per_token_j < r.energy_per_token_high_j
        # batch-1 power sits well below board power: memory bound, not TDP
        assert r.average_power_w < 0.75 * GPUS[key].board_power_w.value


def test_paper_shape_a100_power_is_no_longer_board_power():
    r = model_gpu(paper_shape(), GPUS["a100"])
    assert r.average_power_w < GPUS["a100"].memory_bound_power_w.value < 300


def test_h200_datasheet_numbers():
    g = GPUS["h200"]
    assert g.memory_bandwidth_bytes_per_s.value == 4.8e12
    assert g.fp32_peak_flops_per_s.value == 67e12
    assert g.board_power_w.value == 700.0
    assert g.memory_bandwidth_bytes_per_s.source == "DS-H200"


def test_sourced_number_range_must_hold_the_value():
    with pytest.raises(ValueError, match="does not hold"):
        SourcedNumber(1.0, "TEST", low=2.0)
    n = SourcedNumber(1.0, "TEST", low=0.5, high=2.0)
    assert (n.pick("low"), n.pick("value"), n.pick("high")) == (0.5, 1.0, 2.0)
    assert SourcedNumber(3.0, "TEST").pick("high") == 3.0


def test_sources_carry_the_range():
    src = GPUS["h100"].sources()
    assert src["memory_bound_power_w"]["low"] <= src["memory_bound_power_w"]["value"]
    assert src["memory_bound_power_w"]["value"] <= src["memory_bound_power_w"]["high"]
    assert "graph_launch_s" in src


def test_ratio_range_and_table_band_formatting():
    from types import SimpleNamespace

    from s2sim.report.build import ratios_of
    from s2sim.report.summary import _band, _ratio

    r = model_gpu(paper_shape(), GPUS["h100"])
    s2 = SimpleNamespace(energy_per_step_j=1e-3, latency_per_step_mean_s=1e-2)
    (ratio,) = ratios_of(s2, [r])
    assert ratio.energy_gpu_over_s2_low == pytest.approx(r.energy_per_token_low_j / 1e-3)
    assert ratio.energy_gpu_over_s2_high == pytest.approx(r.energy_per_token_high_j / 1e-3)
    assert ratio.latency_gpu_over_s2_low == pytest.approx(r.latency_per_token_low_s / 1e-2)
    assert _band(48.1e-6, 38.8e-6, 75.3e-6, "s") == "48.1 us (38.8-75.3)"
    assert _band(1.0, None, None, "J") == "1 J"
    assert _ratio(44.3, 30.0, 83.4) == "44.3x (30-83.4)"
    assert _ratio(2.0, None, None) == "2x"
