"""The GPUs the S2 runs are compared against, every number with its source.

Source tags (same spirit as the chip spec):
  DS-A100  NVIDIA A100 Tensor Core GPU datasheet (nvidia-a100-datasheet-us-nvidia-1758950-r4)
  DS-H100  NVIDIA H100 Tensor Core GPU datasheet (SXM5 column) / Hopper whitepaper
  DS-4090  NVIDIA GeForce RTX 4090 product specifications (Ada Lovelace, AD102)
  DS-ORIN  NVIDIA Jetson AGX Orin Series technical brief v1.2 / module data sheet (64 GB module)
  EST      an estimate, with the reasoning in ``note``

FP32 peaks are the non-tensor-core FP32 rates: PyTorch runs float32 matmuls without TF32 unless a
user opts in (``torch.backends.cuda.matmul.allow_tf32`` defaults to False), and at batch 1 every
layer is a matrix-vector product that is memory bound anyway, so the choice hardly matters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from s2sim.errors import S2SimError


@dataclass(frozen=True)
class SourcedNumber:
    """One number with where it comes from (``note`` says how an EST was derived)."""

    value: float
    source: str
    note: str = ""

    def __post_init__(self) -> None:
        if self.source == "EST" and not self.note:
            raise ValueError("an EST number needs a note saying how it was derived")


@dataclass(frozen=True)
class GpuSpec:
    """What the analytic batch-1 model needs to know about one GPU."""

    key: str  # short name used on the command line (--gpus a100,h100)
    name: str
    memory_bandwidth_bytes_per_s: SourcedNumber
    fp32_peak_flops_per_s: SourcedNumber
    board_power_w: SourcedNumber  # TDP / TGP / module max: power when fully utilised
    idle_power_w: SourcedNumber  # powered, context loaded, no kernel running
    kernel_launch_s: SourcedNumber  # fixed cost per kernel launch (driver + scheduling)
    bandwidth_efficiency: SourcedNumber  # achievable share of the datasheet bandwidth
    extra: dict[str, str] = field(default_factory=dict)

    def sources(self) -> dict[str, dict[str, object]]:
        """Every number of this GPU with its source, for reports and `--help` tables."""
        out: dict[str, dict[str, object]] = {}
        for name in (
            "memory_bandwidth_bytes_per_s",
            "fp32_peak_flops_per_s",
            "board_power_w",
            "idle_power_w",
            "kernel_launch_s",
            "bandwidth_efficiency",
        ):
            num: SourcedNumber = getattr(self, name)
            out[name] = {"value": num.value, "source": num.source, "note": num.note}
        return out


# Launch latency: a CUDA kernel launch costs a few microseconds of fixed overhead from the
# host (driver call, command submission, block scheduling); PyTorch eager adds its dispatcher on
# top. 5 us is the commonly quoted order of magnitude for a discrete GPU in eager mode.
_LAUNCH_DISCRETE = SourcedNumber(
    5e-6, "EST", "typical CUDA launch + PyTorch eager dispatch overhead per kernel, a few us"
)
# Jetson: slower Arm host cores (Cortex-A78AE) issue launches more slowly than a server x86 CPU.
_LAUNCH_JETSON = SourcedNumber(
    10e-6, "EST", "discrete-GPU launch overhead doubled for the slower Cortex-A78AE host CPU"
)
# Matrix-vector kernels (cuBLAS gemv) and elementwise kernels stream their operands once; they
# typically reach 75-90 % of the datasheet DRAM bandwidth. 0.8 is the midpoint.
_BW_EFF = SourcedNumber(
    0.8, "EST", "gemv/streaming kernels reach about 75-90 % of datasheet DRAM bandwidth"
)

GPUS: dict[str, GpuSpec] = {
    "a100": GpuSpec(
        key="a100",
        name="NVIDIA A100 SXM4 80GB",
        memory_bandwidth_bytes_per_s=SourcedNumber(2.039e12, "DS-A100", "HBM2e, 80 GB SXM4"),
        fp32_peak_flops_per_s=SourcedNumber(19.5e12, "DS-A100", "FP32, non-tensor"),
        board_power_w=SourcedNumber(400.0, "DS-A100", "max TDP, SXM4"),
        idle_power_w=SourcedNumber(
            55.0, "EST", "nvidia-smi idle readings of A100 SXM4 with a context are about 50-60 W"
        ),
        kernel_launch_s=_LAUNCH_DISCRETE,
        bandwidth_efficiency=_BW_EFF,
    ),
    "h100": GpuSpec(
        key="h100",
        name="NVIDIA H100 SXM5 80GB",
        memory_bandwidth_bytes_per_s=SourcedNumber(3.35e12, "DS-H100", "HBM3, SXM5"),
        fp32_peak_flops_per_s=SourcedNumber(67e12, "DS-H100", "FP32, non-tensor, SXM5"),
        board_power_w=SourcedNumber(700.0, "DS-H100", "max TDP, SXM5 (configurable up to)"),
        idle_power_w=SourcedNumber(
            70.0, "EST", "nvidia-smi idle readings of H100 SXM5 with a context are about 60-80 W"
        ),
        kernel_launch_s=_LAUNCH_DISCRETE,
        bandwidth_efficiency=_BW_EFF,
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
            20.0, "EST", "reviews measure 15-30 W for an idle RTX 4090 board with a CUDA context"
        ),
        kernel_launch_s=_LAUNCH_DISCRETE,
        bandwidth_efficiency=_BW_EFF,
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
            8.0, "EST", "module idle with the GPU powered is a few W; 8 W includes the busy host"
        ),
        kernel_launch_s=_LAUNCH_JETSON,
        bandwidth_efficiency=_BW_EFF,
    ),
}

DEFAULT_GPUS = ("a100", "h100", "rtx4090", "orin")


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
