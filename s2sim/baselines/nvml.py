"""Minimal NVML reader over ctypes (no extra dependency): device name and board energy.

``nvmlDeviceGetTotalEnergyConsumption`` (Volta and later) returns the energy the board used
since the driver was loaded, in millijoules; the difference over a window is the window's energy.
Where the counter is not supported, ``PowerSampler`` integrates ``nvmlDeviceGetPowerUsage`` (mW)
sampled from a background thread instead.
"""

from __future__ import annotations

import ctypes
import threading
import time

from s2sim.errors import S2SimError


class NvmlError(S2SimError):
    """NVML is missing or refused a call (names the call and its return code)."""


class Nvml:
    def __init__(self, index: int = 0):
        lib = None
        for name in ("libnvidia-ml.so.1", "libnvidia-ml.so", "nvml.dll"):
            try:
                lib = ctypes.CDLL(name)
                break
            except OSError:
                continue
        if lib is None:
            raise NvmlError("NVML library (libnvidia-ml.so.1) not found: no NVIDIA driver here")
        self._lib = lib
        self._check("nvmlInit_v2", lib.nvmlInit_v2())
        self._handle = ctypes.c_void_p()
        self._check(
            "nvmlDeviceGetHandleByIndex_v2",
            lib.nvmlDeviceGetHandleByIndex_v2(ctypes.c_uint(index), ctypes.byref(self._handle)),
        )

    @staticmethod
    def _check(call: str, rc: int) -> None:
        if rc != 0:
            raise NvmlError(f"NVML {call} failed with return code {rc}")

    def name(self) -> str:
        buf = ctypes.create_string_buffer(96)
        self._check(
            "nvmlDeviceGetName", self._lib.nvmlDeviceGetName(self._handle, buf, ctypes.c_uint(96))
        )
        return buf.value.decode(errors="replace")

    def driver_version(self) -> str:
        buf = ctypes.create_string_buffer(96)
        self._check("nvmlSystemGetDriverVersion",
                    self._lib.nvmlSystemGetDriverVersion(buf, ctypes.c_uint(96)))
        return buf.value.decode(errors="replace")

    def total_energy_mj(self) -> int | None:
        """Board energy counter in mJ, or None where the GPU does not support it."""
        val = ctypes.c_ulonglong()
        rc = self._lib.nvmlDeviceGetTotalEnergyConsumption(self._handle, ctypes.byref(val))
        return int(val.value) if rc == 0 else None

    def power_mw(self) -> int:
        val = ctypes.c_uint()
        self._check(
            "nvmlDeviceGetPowerUsage",
            self._lib.nvmlDeviceGetPowerUsage(self._handle, ctypes.byref(val)),
        )
        return int(val.value)

    def shutdown(self) -> None:
        self._lib.nvmlShutdown()


class PowerSampler:
    """Integrates sampled board power over a window (fallback for GPUs without the counter)."""

    def __init__(self, nvml: Nvml, period_s: float = 0.01):
        self.nvml, self.period_s = nvml, period_s
        self.energy_j = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        last_t, last_p = time.perf_counter(), self.nvml.power_mw() / 1e3
        while not self._stop.is_set():
            time.sleep(self.period_s)
            t, p = time.perf_counter(), self.nvml.power_mw() / 1e3
            self.energy_j += 0.5 * (p + last_p) * (t - last_t)  # trapezoid rule
            last_t, last_p = t, p

    def __enter__(self) -> PowerSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
