"""Analytic model of batch-1 recurrent inference on a GPU, with a power curve and a band.

Per kernel k (roofline plus launch):
    t_mem = bytes_k / (bandwidth * efficiency),  t_alu = flops_k / fp32_peak
    busy_k = max(t_mem, t_alu)
    time_k = busy_k + launch
While kernel k is busy the board draws P_k, the memory-bound power (DRAM streaming, ALUs mostly
waiting) when t_mem >= t_alu and the board (compute-bound) power otherwise; in the launch gap it
draws the idle power. So
    energy_k = idle * time_k + (P_k - idle) * busy_k.
Kernels run one after another on one stream (a token depends on the previous one's state), so the
token latency is the sum of time_k and the energy the sum of energy_k.

Two launch modes, one row each per GPU:
  eager        every kernel launched from the host (PyTorch eager): ``kernel_launch_s`` each;
  CUDA graph   the token's kernels replayed as one captured graph: ``graph_launch_s`` each (the
               GPU's best case at batch 1: host launch latency mostly removed).

Band: every parameter has a range (``SourcedNumber.low/high``). ``low`` evaluates the model at
the GPU-favourable end of every range (high bandwidth efficiency, short launch, low idle and busy
power), ``high`` at the other end. Latency and energy are monotone in each parameter, so the two
corners are the exact extremes of the model over the parameter box.

What this leaves out, on purpose and in the GPU's favour or not:
- L2 reuse: a model whose weights fit in L2 (40-50 MB on A100/H100) is served from L2 faster
  than DRAM; the small shipped model is launch bound anyway, the paper model (~200 MB) is not
  L2-resident.
- Overlap of the host launch with the previous kernel's execution (async launches) would hide
  part of the eager launch latency for kernels longer than it (the CUDA-graph row bounds that).
- Host CPU power is not counted (nor is the S2 host).
"""

from __future__ import annotations

from dataclasses import dataclass

from s2sim.baselines.gpus import GpuSpec
from s2sim.baselines.result import SEQUENCE_TOKENS, GpuBaselineResult
from s2sim.baselines.workload import Kernel, LMShape, token_kernels

EAGER = "eager"
GRAPH = "graph"
MODES = (EAGER, GRAPH)
CORNERS = ("value", "low", "high")


@dataclass(frozen=True)
class ModelParams:
    """The numbers one evaluation of the model uses (one GPU, one launch mode, one corner)."""

    bandwidth: float  # achievable bytes/s (datasheet x efficiency)
    peak_flops: float
    idle_w: float
    memory_bound_w: float
    compute_bound_w: float
    launch_s: float


def corner_params(gpu: GpuSpec, corner: str = "value", mode: str = EAGER) -> ModelParams:
    """The model's parameters at the central value (``"value"``) or one corner of the band.

    ``"low"``: every range at its GPU-favourable end (less time, less energy); ``"high"``: the
    other end. Bandwidth efficiency is favourable when high, so it takes the opposite end.
    """
    if corner not in CORNERS:
        raise ValueError(f"corner {corner!r}: one of {', '.join(CORNERS)}")
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: one of {', '.join(MODES)}")
    flip = {"value": "value", "low": "high", "high": "low"}[corner]
    launch = gpu.kernel_launch_s
    if mode == GRAPH:
        if gpu.graph_launch_s is None:
            raise ValueError(f"GPU {gpu.key}: no graph_launch_s, no CUDA-graph row")
        launch = gpu.graph_launch_s
    return ModelParams(
        bandwidth=gpu.memory_bandwidth_bytes_per_s.pick(flip)
        * gpu.bandwidth_efficiency.pick(flip),
        peak_flops=gpu.fp32_peak_flops_per_s.pick(flip),
        idle_w=gpu.idle_power_w.pick(corner),
        memory_bound_w=gpu.memory_power.pick(corner),
        compute_bound_w=gpu.board_power_w.pick(corner),
        launch_s=launch.pick(corner),
    )


def kernel_cost_params(kernel: Kernel, p: ModelParams) -> tuple[float, float, float]:
    """(time_s, busy_s, energy_j) of one kernel under parameters ``p``."""
    t_mem = kernel.bytes_moved / p.bandwidth
    t_alu = kernel.flops / p.peak_flops
    busy = max(t_mem, t_alu)
    busy_w = p.memory_bound_w if t_mem >= t_alu else p.compute_bound_w
    time = busy + p.launch_s
    energy = p.idle_w * time + (busy_w - p.idle_w) * busy
    return time, busy, energy


def kernel_cost(kernel: Kernel, gpu: GpuSpec, mode: str = EAGER,
                corner: str = "value") -> tuple[float, float, float]:
    """(time_s, busy_s, energy_j) of one kernel on one GPU (central values, eager by default)."""
    return kernel_cost_params(kernel, corner_params(gpu, corner, mode))


def step_cost(kernels: list[Kernel], p: ModelParams) -> tuple[float, float]:
    """(latency_s, energy_j) of one step's kernels under parameters ``p``."""
    lat = en = 0.0
    for k in kernels:
        t, _busy, e = kernel_cost_params(k, p)
        lat += t
        en += e
    return lat, en


def _label(mode: str) -> str:
    return "modelled" if mode == EAGER else "modelled, CUDA graph"


def model_kernels(kernels: list[Kernel], gpu: GpuSpec, model_name: str,
                  steps_per_sequence: int, notes: list[str],
                  mode: str = EAGER) -> GpuBaselineResult:
    """The modelled cost of one step's ``kernels`` on ``gpu`` (a step: a token or a frame)."""
    central = corner_params(gpu, "value", mode)
    lat_by: dict[str, float] = {}
    en_by: dict[str, float] = {}
    for k in kernels:
        t, _busy, e = kernel_cost_params(k, central)
        lat_by[k.component] = lat_by.get(k.component, 0.0) + t
        en_by[k.component] = en_by.get(k.component, 0.0) + e
    latency, energy = step_cost(kernels, central)
    lat_lo, en_lo = step_cost(kernels, corner_params(gpu, "low", mode))
    lat_hi, en_hi = step_cost(kernels, corner_params(gpu, "high", mode))
    powers = sorted((en_lo / lat_lo, en_hi / lat_hi, energy / latency))
    launch = "CUDA-graph replay" if mode == GRAPH else "eager launches"
    return GpuBaselineResult(
        gpu_key=gpu.key if mode == EAGER else f"{gpu.key}-graph",
        gpu_name=gpu.name,
        method="modelled",
        label=_label(mode),
        model_name=model_name,
        latency_per_token_s=latency,
        energy_per_token_j=energy,
        average_power_w=energy / latency,
        latency_per_sequence_s=latency * steps_per_sequence,
        energy_per_sequence_j=energy * steps_per_sequence,
        latency_per_token_low_s=lat_lo,
        latency_per_token_high_s=lat_hi,
        energy_per_token_low_j=en_lo,
        energy_per_token_high_j=en_hi,
        average_power_low_w=powers[0],
        average_power_high_w=powers[-1],
        latency_per_sequence_low_s=lat_lo * steps_per_sequence,
        latency_per_sequence_high_s=lat_hi * steps_per_sequence,
        energy_per_sequence_low_j=en_lo * steps_per_sequence,
        energy_per_sequence_high_j=en_hi * steps_per_sequence,
        kernels_per_token=len(kernels),
        bytes_per_token=sum(k.bytes_moved for k in kernels),
        flops_per_token=sum(k.flops for k in kernels),
        latency_by_component_s=lat_by,
        energy_by_component_j=en_by,
        sources=gpu.sources(),
        notes=[*notes, f"{launch}; power: idle in launch gaps, memory-bound or compute-bound "
               "power while busy; band: every parameter at its favourable / unfavourable end"],
    )


def model_kernel_rows(kernels: list[Kernel], gpu: GpuSpec, model_name: str,
                      steps_per_sequence: int, notes: list[str]) -> list[GpuBaselineResult]:
    """The eager row and, where the GPU has a graph launch cost, the CUDA-graph row."""
    modes = MODES if gpu.graph_launch_s is not None else (EAGER,)
    return [model_kernels(kernels, gpu, model_name, steps_per_sequence, notes, mode=m)
            for m in modes]


def model_gpu(shape: LMShape, gpu: GpuSpec, mode: str = EAGER) -> GpuBaselineResult:
    """The modelled per-token (and per-70-token-sequence) cost of ``shape`` on ``gpu``."""
    return model_kernels(token_kernels(shape), gpu, shape.name, SEQUENCE_TOKENS,
                         ["dense fp32 matmuls at batch 1; roofline per kernel + launch latency"],
                         mode=mode)


def model_gpus(shape: LMShape, gpus: list[GpuSpec]) -> list[GpuBaselineResult]:
    """Per GPU the eager row and the CUDA-graph row."""
    return [r for g in gpus for r in model_kernel_rows(
        token_kernels(shape), g, shape.name, SEQUENCE_TOKENS,
        ["dense fp32 matmuls at batch 1; roofline per kernel + launch latency"])]
