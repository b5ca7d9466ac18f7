"""Objective stage: which PE count to compile for.

- ``pes`` (default): the fewest PEs the layers fit on (the partitioners' own choice).
- ``latency``: every usable PE (``--max-pes``, default spec ``organisation.usable_pes``): the
  layers' work is shared out over the most slices, so the busiest PE — and with the auto tick,
  the step period — is shortest.
- ``energy``: the PE count with the lowest *estimated* energy per step among a geometric series
  from the fewest PEs to every usable one. More PEs shorten the (auto) tick, so the chip floor
  and the PEs' sleep power are paid for less time per step, but each PE adds its sleep power:
  ``estimated_step_energy_j`` prices the compiler's own estimates with the spec (the chip floor
  and every loaded PE's sleep power over one tick, plus the estimated active cycles at the PL's
  energy per cycle), the same components ``s2sim.hw.energy.price`` charges a run.
"""

from __future__ import annotations

import numpy as np

from s2sim.errors import CompileError

__all__ = ["compile_for_objective", "estimated_step_energy_j", "ENERGY_CANDIDATES"]

# PE counts tried for the energy objective (geometric from the fewest to every usable PE).
ENERGY_CANDIDATES = 8


def estimated_step_energy_j(mapping, spec) -> float:
    """Chip energy of one step from the compiler's estimates (joules)."""
    pl = spec.pl(mapping.pl)
    tick_s = mapping.tick_period_ps / 1e12
    n = len(mapping.pes_used())
    floor = float(spec.power.chip_off_power_w.value) * tick_s
    sleep = n * float(pl.pe_sleep_power_w.value) * tick_s
    active = (sum(s.est_cycles_per_step for s in mapping.slices)
              * float(pl.pe_active_energy_j_per_cycle.value))
    return floor + sleep + active


def _limit(kw) -> int:
    if kw.get("max_pes") is not None:
        return int(kw["max_pes"])
    spec = kw.get("spec")
    if spec is None:
        from s2sim.spec import load_spec

        spec = load_spec(kw.get("spec_path"), kw.get("spec_overrides") or None)
    return int(spec.organisation.usable_pes.value)


def compile_for_objective(compile_fn, network, objective: str, tick, kw: dict):
    """Compile for ``latency`` or ``energy`` (``compile_fn`` is ``compile_network``)."""
    limit = _limit(kw)
    if objective == "latency":
        return compile_fn(network, tick_period_s=tick, pes=limit, objective="latency", **kw)
    fewest = compile_fn(network, tick_period_s=tick, **kw)
    n_min = len(fewest.pes_used())
    best = (estimated_step_energy_j(fewest, fewest.load_spec()), n_min, fewest)
    for n in sorted({int(round(v)) for v in np.geomspace(n_min, limit, ENERGY_CANDIDATES)}):
        if n <= n_min:
            continue
        try:
            m = compile_fn(network, tick_period_s=tick, pes=n, objective="energy", **kw)
        except CompileError:
            continue  # this PE count cannot be placed or scheduled: not a candidate
        e = estimated_step_energy_j(m, m.load_spec())
        if e < best[0]:
            best = (e, n, m)
    m = best[2]
    m.options["objective"] = "energy"
    m.options["estimated_step_energy_j"] = float(best[0])
    return m
