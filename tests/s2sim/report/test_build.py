"""Report assembly from a RunResult + Mapping: totals, per-PE and per-step rows, ratios."""

from types import SimpleNamespace

import numpy as np
import pytest

from s2sim.baselines.gpus import GPUS
from s2sim.baselines.modelled import model_gpu
from s2sim.baselines.workload import LMShape
from s2sim.engine.result import RunResult
from s2sim.report.build import build_report, energy_per_pe
from s2sim.report.schema import Workload


class FakeMapping:
    """The parts of a Mapping the report reads (two PEs of QPE (1,1), one layer)."""

    pl = 1
    frequency_hz = 300e6
    data_bytes_available = 94208
    layer_sizes = [8]
    routes = [object(), object(), object()]
    pipeline_ticks = 1
    slices = [SimpleNamespace(id=f"L0.S{i}", kind="egru", layer=0,
                              regions={"w_vals": 200, "r_vals": 50, "state": 16}) for i in (0, 1)]

    def pe_bytes(self):
        return {36: 1000, 37: 3000}

    def pe_slices(self):
        return {36: ["L0.S0"], 37: ["L0.S1"]}

    def layer_slices(self, i):
        return [SimpleNamespace(nnz_w=100, nnz_r=25)]


def _result(T=4):
    return RunResult(
        engine="analytic", n_steps=T, n_layers=1,
        outputs=np.zeros((T, 8), np.float32), layer_outputs=[np.zeros((T, 8), np.float32)],
        events_per_step=np.array([[2], [3], [1], [2]]), input_events=np.full(T, 4),
        activation_sparsity=[0.75], effective_macs_per_step=np.array([10, 20, 30, 40]),
        dense_macs_per_step=288, latency_ps=np.array([1_000_000, 2_000_000, 3_000_000,
                                                       2_000_000]),
        step_period_ps=10_000_000, sim_time_ps=40_000_000,
        packets_per_step=np.array([4, 5, 6, 5]), hops_per_step=np.array([8, 10, 12, 10]),
        pe_ids=[36, 37], pe_counts={"active_cycles": np.array([1200, 600]),
                                    "macs": np.array([50, 50])},
        max_step_cycles=np.array([400, 200]),
        energy=SimpleNamespace(components_j={"pe_active": 3e-6, "chip_floor": 1e-6},
                               per_pe_j=np.array([1e-6, 2e-6])),
        energy_j=4e-6,
    )


def _workload():
    return Workload(kind="lm", model_name="t", model_source="t", data_source="t", n_steps=4,
                    engine="analytic", performance_level=1)


def test_totals_rows_and_ratios():
    gpu = model_gpu(LMShape("t", 10, 8, (8,)), GPUS["a100"])
    rep = build_report(_workload(), _result(), FakeMapping(), [gpu])
    s = rep.s2
    assert s.latency_per_step_mean_s == pytest.approx(2e-6)
    assert s.latency_per_step_max_s == pytest.approx(3e-6)
    # 69 step periods of 10 us, then the last token's own latency
    assert s.latency_per_sequence_s == pytest.approx(69 * 10e-6 + 2e-6)
    assert s.energy_per_step_j == pytest.approx(1e-6)
    assert s.energy_per_sequence_j == pytest.approx(70e-6)
    assert s.average_power_w == pytest.approx(4e-6 / 40e-6)
    assert s.energy_by_component_per_step_j == {"chip_floor": 0.25e-6, "pe_active": 0.75e-6}
    assert s.events_per_step_mean == 2.0 and s.packets_per_step_mean == 5.0
    assert s.effective_macs_per_step_mean == 25.0
    d = rep.deployment
    assert (d.pes_used, d.qpes_used, d.sram_bytes_per_pe_max, d.routing_entries) == (2, 1, 3000, 3)
    assert d.weight_bytes_total == 500
    pe0 = rep.per_pe[0]
    assert (pe0.pe_id, pe0.qx, pe0.qy, pe0.pe_in_qpe) == (36, 1, 1, 0)
    # 1200 active cycles at 300 MHz over 40 us of simulated time
    assert pe0.busy_fraction == pytest.approx(1200 / 300e6 / 40e-6)
    assert pe0.energy_j == 1e-6 and pe0.sram_bytes == 1000
    assert [r.latency_s for r in rep.per_step] == pytest.approx([1e-6, 2e-6, 3e-6, 2e-6])
    (r,) = rep.ratios
    assert r.energy_gpu_over_s2 == pytest.approx(gpu.energy_per_token_j / 1e-6)
    assert r.latency_gpu_over_s2 == pytest.approx(gpu.latency_per_token_s / 2e-6)


def test_functional_result_gives_no_s2_section():
    res = _result()
    res.latency_ps = None
    rep = build_report(_workload(), res, FakeMapping(), [])
    assert rep.s2 is None and rep.per_pe == [] and rep.ratios == []
    assert rep.deployment.pes_used == 2


def test_energy_per_pe_from_a_whole_chip_array():
    from s2sim.report.plots import _qpe_coords

    all_pes = sorted((x << 5) | (y << 2) | i for x, y in _qpe_coords() for i in range(4))
    per = np.arange(len(all_pes), dtype=float)
    e = energy_per_pe(SimpleNamespace(per_pe_j=per), [all_pes[3], all_pes[10]])
    assert list(e) == [3.0, 10.0]
