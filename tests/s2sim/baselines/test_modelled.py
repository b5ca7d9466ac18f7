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
    assert {"a100", "h100", "rtx4090", "orin"} <= set(GPUS)
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
    assert len(parse_gpu_list("all")) == 4
    with pytest.raises(S2SimError, match="unknown GPU 'v100'"):
        parse_gpu_list("a100,v100")
