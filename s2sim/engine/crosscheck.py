"""``--check-des N``: the first N steps of a run again on the DES engine, compared.

The analytic engine's outputs are the reference's own, so it cannot show a mismatch; its timing
and energy are counted, not simulated per packet. The cross-check runs the same mapping on the
DES for the first N steps and reports what it finds: event/value mismatches against the
reference, late/dropped/undelivered packets, overruns, and how far the analytic engine's energy
and latency per step (over the same N steps) are from the DES's.
"""

from __future__ import annotations

import numpy as np

from s2sim.engine.run import run_mapping

__all__ = ["check_on_des"]


def _rel(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return (a - b) / b


def check_on_des(mapping, inputs, n_steps: int, network=None) -> dict:
    """A JSON-ready summary of the DES run of the first ``n_steps`` steps of ``inputs``."""
    xs = np.asarray(inputs)[: int(n_steps)]
    des = run_mapping(mapping, xs, engine="des", network=network)
    ana = run_mapping(mapping, xs, engine="analytic", network=network, compare=False)
    mm = des.mismatches
    return {
        "steps": int(xs.shape[0]),
        "event_mismatches": int(mm.event_mismatches),
        "value_mismatches": int(mm.value_mismatches),
        "late_packets": int(mm.late_packets),
        "dropped_packets": int(des.dropped_packets),
        "tick_overruns": int(des.tick_overruns),
        "undelivered_packets": int(des.meta.get("undelivered", 0)),
        "energy_per_step_j": {"des": des.energy_per_step_j, "analytic": ana.energy_per_step_j},
        "latency_per_step_s": {"des": (des.mean_latency_ps or 0) / 1e12,
                               "analytic": (ana.mean_latency_ps or 0) / 1e12},
        "analytic_vs_des": {"energy": _rel(ana.energy_per_step_j, des.energy_per_step_j),
                            "latency": _rel(ana.mean_latency_ps, des.mean_latency_ps)},
    }


def describe(check: dict) -> str:
    """One line for the report's notes."""
    rel = check["analytic_vs_des"]
    e = "-" if rel["energy"] is None else f"{100 * rel['energy']:+.2f} %"
    t = "-" if rel["latency"] is None else f"{100 * rel['latency']:+.2f} %"
    return (f"--check-des {check['steps']}: the DES on the first {check['steps']} steps has "
            f"{check['event_mismatches']} event / {check['value_mismatches']} value mismatches "
            f"vs the reference, {check['late_packets']} late, {check['dropped_packets']} "
            f"dropped, {check['undelivered_packets']} undelivered packets, "
            f"{check['tick_overruns']} tick overruns; analytic vs DES over those steps: energy "
            f"{e}, latency {t}")
