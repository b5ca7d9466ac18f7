import pytest

from s2sim.baselines.gpus import GPUS
from s2sim.baselines.modelled import model_gpu
from s2sim.baselines.workload import LMShape
from s2sim.report.build import ratios_of
from s2sim.report.schema import Deployment, PeRow, Quality, Report, S2Totals, StepRow, Workload


def make_report(energy_scale: float = 1.0, latency_scale: float = 1.0) -> Report:
    """A small hand-made report (4 PEs, 5 steps) for schema, io, plot and diff tests."""
    pes = [(1 << 5) | (1 << 2) | i for i in range(4)]  # QPE (1, 1)
    per_pe = [
        PeRow(pe_id=p, pe_index=i, qx=p >> 5, qy=(p >> 2) & 7, pe_in_qpe=p & 3,
              energy_j=1e-6 * (i + 1) * energy_scale, busy_fraction=0.1 * (i + 1),
              sram_bytes=20000 + 1000 * i, active_cycles=1000 * (i + 1), macs=10 * i)
        for i, p in enumerate(pes)
    ]
    per_step = [
        StepRow(step=t, latency_s=1e-5 * (1 + t % 2) * latency_scale,
                tick_energy_j=2e-6 * energy_scale,
                events=10 + t, packets=12 + t, hops=30 + t, effective_macs=500 + t)
        for t in range(5)
    ]
    e_step = 2e-6 * energy_scale
    lat = 1.4e-5 * latency_scale
    s2 = S2Totals(
        latency_per_step_mean_s=lat, latency_per_step_max_s=2e-5 * latency_scale,
        latency_per_sequence_s=70 * lat, step_period_s=1e-3, energy_total_j=5 * e_step,
        energy_per_step_j=e_step, energy_per_sequence_j=70 * e_step,
        average_power_w=e_step / 1e-3,
        energy_by_component_j={"pe_active": 3 * e_step, "pe_sleep": 2 * e_step},
        energy_by_component_per_step_j={"pe_active": 0.6 * e_step, "pe_sleep": 0.4 * e_step},
        events_per_step_mean=12.0, events_per_step_by_layer_mean=[7.0, 5.0],
        packets_per_step_mean=14.0, hops_per_step_mean=32.0,
        activation_sparsity_by_layer=[0.8, 0.85], activation_sparsity=0.825,
        effective_macs_per_step_mean=502.0, dense_macs_per_step=4000,
    )
    shape = LMShape("tiny", 40, 8, (12, 8))
    gpu = [model_gpu(shape, GPUS["a100"]), model_gpu(shape, GPUS["orin"])]
    ratios = ratios_of(s2, gpu)  # the drivers' own GPU/S2 ratios (with their bands)
    return Report(
        workload=Workload(kind="lm", model_name="tiny", model_source="test", data_source="test",
                          n_steps=5, engine="analytic", performance_level=0, seed=0),
        deployment=Deployment(pes_used=4, qpes_used=1, sram_bytes_per_pe_max=23000,
                              sram_bytes_per_pe_mean=21500.0, sram_bytes_per_pe_capacity=98304),
        s2=s2, per_pe=per_pe, per_step=per_step, gpu=gpu, ratios=ratios,
        quality=Quality(metrics={"test_perplexity": 123.0}, source="test", tokens_scored=5),
    )


@pytest.fixture
def sample_report() -> Report:
    return make_report()


@pytest.fixture
def report_factory():
    return make_report
