"""Analytic model of batch-1 recurrent inference on a GPU.

Per kernel k (roofline plus launch):
    busy_k = max(bytes_k / (bandwidth * efficiency), flops_k / fp32_peak)
    time_k = busy_k + launch
Power while kernel k runs is idle + u_k (board - idle) with u_k = busy_k / time_k, the share of
the kernel's wall time in which the memory system (or the ALUs) is saturated; so
    energy_k = idle * time_k + (board - idle) * busy_k.
Kernels run one after another on one stream (a token depends on the previous one's state), so the
token latency is the sum of time_k and the energy the sum of energy_k.

What this leaves out, on purpose and in the GPU's favour or not:
- L2 reuse: a model whose weights fit in L2 (40-50 MB on A100/H100) is served from L2 faster
  than DRAM; the small shipped model is launch bound anyway, the paper model (~200 MB) is not
  L2-resident.
- Overlap of the host launch with the previous kernel's execution (async launches) would hide
  part of the launch latency for kernels longer than it; CUDA graphs would shrink it. Both
  favour the GPU.
- Host CPU power is not counted (nor is the S2 host).
"""

from __future__ import annotations

from s2sim.baselines.gpus import GpuSpec
from s2sim.baselines.result import SEQUENCE_TOKENS, GpuBaselineResult
from s2sim.baselines.workload import Kernel, LMShape, token_kernels


def kernel_cost(kernel: Kernel, gpu: GpuSpec) -> tuple[float, float, float]:
    """(time_s, busy_s, energy_j) of one kernel on one GPU."""
    bw = gpu.memory_bandwidth_bytes_per_s.value * gpu.bandwidth_efficiency.value
    busy = max(kernel.bytes_moved / bw, kernel.flops / gpu.fp32_peak_flops_per_s.value)
    time = busy + gpu.kernel_launch_s.value
    idle = gpu.idle_power_w.value
    energy = idle * time + (gpu.board_power_w.value - idle) * busy
    return time, busy, energy


def model_kernels(kernels: list[Kernel], gpu: GpuSpec, model_name: str,
                  steps_per_sequence: int, notes: list[str]) -> GpuBaselineResult:
    """The modelled cost of one step's ``kernels`` on ``gpu`` (a step: a token or a frame)."""
    lat_by: dict[str, float] = {}
    en_by: dict[str, float] = {}
    latency = energy = 0.0
    for k in kernels:
        t, _busy, e = kernel_cost(k, gpu)
        latency += t
        energy += e
        lat_by[k.component] = lat_by.get(k.component, 0.0) + t
        en_by[k.component] = en_by.get(k.component, 0.0) + e
    return GpuBaselineResult(
        gpu_key=gpu.key,
        gpu_name=gpu.name,
        method="modelled",
        label="modelled",
        model_name=model_name,
        latency_per_token_s=latency,
        energy_per_token_j=energy,
        average_power_w=energy / latency,
        latency_per_sequence_s=latency * steps_per_sequence,
        energy_per_sequence_j=energy * steps_per_sequence,
        kernels_per_token=len(kernels),
        bytes_per_token=sum(k.bytes_moved for k in kernels),
        flops_per_token=sum(k.flops for k in kernels),
        latency_by_component_s=lat_by,
        energy_by_component_j=en_by,
        sources=gpu.sources(),
        notes=notes,
    )


def model_gpu(shape: LMShape, gpu: GpuSpec) -> GpuBaselineResult:
    """The modelled per-token (and per-70-token-sequence) cost of ``shape`` on ``gpu``."""
    return model_kernels(token_kernels(shape), gpu, shape.name, SEQUENCE_TOKENS,
                         ["dense fp32 matmuls at batch 1; roofline per kernel + launch latency"])


def model_gpus(shape: LMShape, gpus: list[GpuSpec]) -> list[GpuBaselineResult]:
    return [model_gpu(shape, g) for g in gpus]
