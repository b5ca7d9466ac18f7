"""The GPUs the S2 runs are compared against, every number with its source and its range.

Source tags (same spirit as the chip spec):
  DS-A100  NVIDIA A100 Tensor Core GPU datasheet (nvidia-a100-datasheet-us-nvidia-1758950-r4)
  DS-H100  NVIDIA H100 Tensor Core GPU datasheet (SXM5 column) / Hopper whitepaper
  DS-H200  NVIDIA H200 Tensor Core GPU datasheet (SXM column): 141 GB HBM3e, 4.8 TB/s, FP32
           67 TFLOPS (same GH100 die and clocks as the H100 SXM5), max TDP up to 700 W
  DS-4090  NVIDIA GeForce RTX 4090 product specifications (Ada Lovelace, AD102)
  DS-ORIN  NVIDIA Jetson AGX Orin Series technical brief v1.2 / module data sheet (64 GB module)
  CAL      calibrated against the public measurements in ``s2sim.baselines.measurements``
           (which ones is in ``note``; the model's error against each is computed there)
  EST      an estimate, with the reasoning in ``note``

Power is split into three parts (``s2sim.baselines.modelled`` uses them per kernel):
  idle_power_w          powered, CUDA context loaded, clocks up, no kernel running
  memory_bound_power_w  a kernel that keeps DRAM streaming at the achievable bandwidth while the
                        ALUs are mostly waiting (a batch-1 gemv); measured batch-1 LLM decoding
                        draws 35-55 % of TDP on H100 and 4090 boards (measurements.py)
  board_power_w         a compute-bound kernel (TDP / TGP / module max)

Every number has a ``low``/``high`` range (default: the value itself). The GPU figures' band is
the model evaluated at the GPU-favourable end of every range (low) and at the unfavourable end
(high): latency and energy are monotone in every parameter, so these are the extremes of the box.

FP32 peaks are the non-tensor-core FP32 rates: PyTorch runs float32 matmuls without TF32 unless a
user opts in (``torch.backends.cuda.matmul.allow_tf32`` defaults to False), and at batch 1 every
layer is a matrix-vector product that is memory bound anyway, so the choice hardly matters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from s2sim.errors import S2SimError


@dataclass(frozen=True)
class SourcedNumber:
    """One number with where it comes from (``note`` says how an EST was derived) and its range.

    ``low``/``high`` bound the number (None: no spread, the value itself); where they are given,
    ``note`` says where they come from.
    """

    value: float
    source: str
    note: str = ""
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        if self.source == "EST" and not self.note:
            raise ValueError("an EST number needs a note saying how it was derived")
        if not self.lo <= self.value <= self.hi:
            raise ValueError(f"range [{self.lo}, {self.hi}] does not hold the value {self.value}")

    @property
    def lo(self) -> float:
        return self.value if self.low is None else self.low

    @property
    def hi(self) -> float:
        return self.value if self.high is None else self.high

    def pick(self, end: str) -> float:
        """``end`` "value" | "low" | "high": the central value or one end of the range."""
        return {"value": self.value, "low": self.lo, "high": self.hi}[end]


# the numbers of a GpuSpec that go into the model, in report order
PARAMETERS = (
    "memory_bandwidth_bytes_per_s",
    "fp32_peak_flops_per_s",
    "board_power_w",
    "idle_power_w",
    "kernel_launch_s",
    "bandwidth_efficiency",
    "memory_bound_power_w",
    "graph_launch_s",
)


@dataclass(frozen=True)
class GpuSpec:
    """What the analytic batch-1 model needs to know about one GPU."""

    key: str  # short name used on the command line (--gpus a100,h100)
    name: str
    memory_bandwidth_bytes_per_s: SourcedNumber
    fp32_peak_flops_per_s: SourcedNumber
    board_power_w: SourcedNumber  # TDP / TGP / module max: power of a compute-bound kernel
    idle_power_w: SourcedNumber  # powered, context loaded, no kernel running
    kernel_launch_s: SourcedNumber  # fixed cost per kernel launch, eager (driver + dispatcher)
    bandwidth_efficiency: SourcedNumber  # achievable share of the datasheet bandwidth
    # power of a memory-bound kernel streaming at the achievable bandwidth (None: board power)
    memory_bound_power_w: SourcedNumber | None = None
    # per-kernel cost when the token's kernels are replayed as one CUDA graph (None: no graph row)
    graph_launch_s: SourcedNumber | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def memory_power(self) -> SourcedNumber:
        return self.memory_bound_power_w or self.board_power_w

    def sources(self) -> dict[str, dict[str, object]]:
        """Every number of this GPU with its source and range, for reports and `--help` tables."""
        out: dict[str, dict[str, object]] = {}
        for name in PARAMETERS:
            num: SourcedNumber | None = getattr(self, name)
            if num is None:
                continue
            out[name] = {"value": num.value, "low": num.lo, "high": num.hi,
                         "source": num.source, "note": num.note}
        return out


# Launch latency, eager: a CUDA kernel launch costs a few microseconds of fixed overhead from the
# host (driver call, command submission, block scheduling); PyTorch eager adds its dispatcher on
# top. 4-6 us per launch+sync is measured on a current discrete GPU (susun-blog.com, "pegainfer
# (3): From Launch Overhead to CUDA Graph", RTX 5070 Ti); PyTorch's dispatcher adds 1-3 us.
_LAUNCH_DISCRETE = SourcedNumber(
    5e-6, "EST", "CUDA launch measured at 4-6 us per kernel (pegainfer blog, RTX 5070 Ti) plus "
    "PyTorch eager dispatch; range 4-8 us", low=4e-6, high=8e-6,
)
# Jetson: slower Arm host cores (Cortex-A78AE) issue launches more slowly than a server x86 CPU.
_LAUNCH_JETSON = SourcedNumber(
    10e-6, "EST", "discrete-GPU launch overhead doubled for the slower Cortex-A78AE host CPU; "
    "range 8-16 us", low=8e-6, high=16e-6,
)
# CUDA graph replay: the whole token is one graph launch; what is left per kernel is the GPU-side
# dependency/scheduling gap. CUDA.jl's documentation measures 80 tiny broadcast kernels (an RK4
# loop) at 260 us launched one by one and 70 us as one graph: <= 0.9 us per kernel including the
# kernels' own execution. NVIDIA's "Getting Started with CUDA Graphs" blog reports a similar
# sub-microsecond gap between graph nodes.
_GRAPH_DISCRETE = SourcedNumber(
    1.0e-6, "EST", "CUDA.jl docs: 80 small kernels in 70 us as one graph vs 260 us launched "
    "(<= 0.9 us per kernel incl. execution); range 0.5-1.5 us", low=0.5e-6, high=1.5e-6,
)
_GRAPH_JETSON = SourcedNumber(
    2.0e-6, "EST", "discrete graph-replay gap doubled for the embedded GPU's slower front end; "
    "range 1-3 us", low=1.0e-6, high=3.0e-6,
)
# Matrix-vector kernels (cuBLAS gemv) and elementwise kernels stream their operands once; they
# typically reach 75-90 % of the datasheet DRAM bandwidth. 0.8 is the central value.
_BW_EFF = SourcedNumber(
    0.8, "EST", "gemv/streaming kernels reach about 75-90 % of datasheet DRAM bandwidth",
    low=0.75, high=0.9,
)
# Note on bandwidth efficiency and the band: a *higher* efficiency is GPU-favourable, so the
# model takes ``high`` for its low corner (s2sim.baselines.modelled.corner_params).

GPUS: dict[str, GpuSpec] = {
    "a100": GpuSpec(
        key="a100",
        name="NVIDIA A100 SXM4 80GB",
        memory_bandwidth_bytes_per_s=SourcedNumber(2.039e12, "DS-A100", "HBM2e, 80 GB SXM4"),
        fp32_peak_flops_per_s=SourcedNumber(19.5e12, "DS-A100", "FP32, non-tensor"),
        board_power_w=SourcedNumber(400.0, "DS-A100", "max TDP, SXM4"),
        idle_power_w=SourcedNumber(
            55.0, "EST", "nvidia-smi idle readings of A100 SXM4 with a context are about 50-60 W; "
            "arXiv 2605.23918: a CUDA context adds 26-50 W over bare idle on HBM boards",
            low=45.0, high=70.0,
        ),
        kernel_launch_s=_LAUNCH_DISCRETE,
        bandwidth_efficiency=_BW_EFF,
        memory_bound_power_w=SourcedNumber(
            225.0, "EST", "no public A100 batch-1 measurement found: idle + the H100-calibrated "
            "~100 pJ per streamed byte above idle x 1.63 TB/s achievable = 55 + 170 W; range "
            "from the H100 calibration's spread and the per-byte energy of 7 nm vs 4 nm",
            low=190.0, high=280.0,
        ),
        graph_launch_s=_GRAPH_DISCRETE,
    ),
    "h100": GpuSpec(
        key="h100",
        name="NVIDIA H100 SXM5 80GB",
        memory_bandwidth_bytes_per_s=SourcedNumber(3.35e12, "DS-H100", "HBM3, SXM5"),
        fp32_peak_flops_per_s=SourcedNumber(67e12, "DS-H100", "FP32, non-tensor, SXM5"),
        board_power_w=SourcedNumber(700.0, "DS-H100", "max TDP, SXM5 (configurable up to)"),
        idle_power_w=SourcedNumber(
            70.0, "EST", "nvidia-smi idle readings of H100 SXM5 with a context are about 60-80 W; "
            "arXiv 2605.23918: a CUDA context adds 26-50 W over bare idle",
            low=60.0, high=90.0,
        ),
        kernel_launch_s=_LAUNCH_DISCRETE,
        bandwidth_efficiency=_BW_EFF,
        memory_bound_power_w=SourcedNumber(
            350.0, "CAL", "batch-1 vLLM decoding on H100 SXM draws 267 W (Serial Alice benchmark) "
            "to ~300 W (ML.ENERGY, as summarised) at an EST 75 % memory-busy share; solving "
            "idle + (P - idle) x 0.75 for P gives 333-377 W; range widened for the busy share",
            low=300.0, high=400.0,
        ),
        graph_launch_s=_GRAPH_DISCRETE,
    ),
    "h200": GpuSpec(
        key="h200",
        name="NVIDIA H200 SXM 141GB",
        memory_bandwidth_bytes_per_s=SourcedNumber(4.8e12, "DS-H200", "HBM3e, 141 GB, SXM"),
        fp32_peak_flops_per_s=SourcedNumber(
            67e12, "DS-H200", "FP32, non-tensor; same GH100 die and clocks as the H100 SXM5"
        ),
        board_power_w=SourcedNumber(700.0, "DS-H200", "max TDP, SXM (configurable up to)"),
        idle_power_w=SourcedNumber(
            80.0, "CAL", "Serial Alice benchmark: H200 SXM idle with a model loaded 80.3 W",
            low=70.0, high=90.0,
        ),
        kernel_launch_s=_LAUNCH_DISCRETE,
        bandwidth_efficiency=_BW_EFF,
        memory_bound_power_w=SourcedNumber(
            400.0, "EST", "no public H200 batch-1 measurement found: the H100's calibrated 350 W "
            "plus part of the extra 43 % bandwidth (HBM3e costs less per bit than HBM3); low "
            "end H100 + 15 %, high end the H100's per-byte energy scaled to 3.84 TB/s; below "
            "the 517-593 W measured at batch 128 (Serial Alice)",
            low=340.0, high=480.0,
        ),
        graph_launch_s=_GRAPH_DISCRETE,
    ),
    "rtx4090": GpuSpec(
        key="rtx4090",
        name="NVIDIA GeForce RTX 4090",
        memory_bandwidth_bytes_per_s=SourcedNumber(
            1.008e12, "DS-4090", "GDDR6X, 384 bit at 21 Gbit/s"
        ),
        fp32_peak_flops_per_s=SourcedNumber(82.6e12, "DS-4090", "16384 CUDA cores at 2.52 GHz"),
        board_power_w=SourcedNumber(450.0, "DS-4090", "total graphics power (TGP)"),
        idle_power_w=SourcedNumber(
            20.0, "EST", "reviews measure 15-30 W for an idle RTX 4090 board with a CUDA context",
            low=15.0, high=30.0,
        ),
        kernel_launch_s=_LAUNCH_DISCRETE,
        bandwidth_efficiency=_BW_EFF,
        memory_bound_power_w=SourcedNumber(
            320.0, "CAL", "batch-1 vLLM decoding (Qwen3-4B fp8, 138 tok/s) draws 246.6 W "
            "(github.com/noonghunna/club-3090 issue 697) at a 75 % memory-busy share from its "
            "bytes per token; GDDR6X is power hungry; range for the busy share 0.65-0.9",
            low=270.0, high=370.0,
        ),
        graph_launch_s=_GRAPH_DISCRETE,
    ),
    "orin": GpuSpec(
        key="orin",
        name="NVIDIA Jetson AGX Orin 64GB",
        memory_bandwidth_bytes_per_s=SourcedNumber(
            204.8e9, "DS-ORIN", "256-bit LPDDR5, shared by CPU and GPU"
        ),
        fp32_peak_flops_per_s=SourcedNumber(
            5.3e12, "DS-ORIN", "2048 CUDA cores (16 SMs) at 1.3 GHz, FP32"
        ),
        board_power_w=SourcedNumber(60.0, "DS-ORIN", "module power, MAXN mode (15-60 W)"),
        idle_power_w=SourcedNumber(
            8.0, "EST", "module idle with the GPU powered is a few W; 8 W includes the busy host",
            low=5.0, high=12.0,
        ),
        kernel_launch_s=_LAUNCH_JETSON,
        bandwidth_efficiency=_BW_EFF,
        memory_bound_power_w=SourcedNumber(
            30.0, "EST", "no public AGX Orin batch-1 fp32 measurement found: idle + LPDDR5 and "
            "fabric at ~100 pJ/byte x 164 GB/s (~16 W) + clocked-up SMs (~6 W); a GPU stress "
            "test on AGX Orin at MAXN draws 40 W on the GPU rail alone (NVIDIA forum 323456), "
            "an upper bound for a memory-bound kernel",
            low=22.0, high=40.0,
        ),
        graph_launch_s=_GRAPH_JETSON,
    ),
}

DEFAULT_GPUS = ("a100", "h100", "h200", "rtx4090", "orin")


def parse_gpu_list(text: str) -> list[GpuSpec]:
    """``"a100,orin"`` -> specs; ``"none"`` or ``""`` -> []; unknown names -> one-line error."""
    text = text.strip().lower()
    if text in ("", "none"):
        return []
    if text == "all":
        return [GPUS[k] for k in DEFAULT_GPUS]
    out = []
    for key in (t.strip() for t in text.split(",")):
        if key not in GPUS:
            raise S2SimError(f"--gpus: unknown GPU {key!r}; known: {', '.join(GPUS)}, all, none")
        out.append(GPUS[key])
    return out
