"""Pricing: counts of a run -> energy by component, using the prices in a chip spec.

``price(counts, spec)`` is a pure function: re-pricing the same counts with another spec (other
PL pairs, another DRAM figure) needs no new simulation. Components:

=================  ===========================================================================
chip_floor         ``power.chip_off_power_w`` x run time (drawn always: NoC, router, periphery)
pe_sleep           per-PL ``pe_sleep_power_w`` x time each PE is powered at that PL (asleep or
                   busy: the spec's active energy is *on top of* sleep power)
pe_active          active cycles at each PL x ``pe_active_energy_j_per_cycle`` of that PL
mla                MLA MACs at each PL x ``mla_energy_j_per_mac`` of that PL
noc                flit hops x ``noc_energy_j_per_hop``
router             router lookups x ``router_energy_j_per_packet``
chip_links         packets out of chip links x ``link_packet_bits`` x ``link_energy_j_per_bit``
dram               DRAM bytes x ``dram_energy_j_per_byte``
sram               DMA bytes written to SRAM x ``sram_energy_j_per_byte`` (CPU/MLA SRAM accesses
                   are inside their per-cycle / per-MAC energies, see the spec note)
dvfs               PL switches x ``pl_switch_energy_j``
=================  ===========================================================================

A PE that was never loaded is powered off: it adds nothing beyond the chip floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from s2sim.errors import S2SimError
from s2sim.hw.ledger import Counts

COMPONENTS = ("chip_floor", "pe_sleep", "pe_active", "mla", "noc", "router", "chip_links",
              "dram", "sram", "dvfs")


@dataclass
class EnergyReport:
    """Energy of one run by component (joules), per PE, and the average power."""

    components_j: dict[str, float]
    per_pe_j: np.ndarray          # (n_pes,) PE-attributable energy (sleep, active, MLA, DMA, DVFS)
    duration_s: float

    @property
    def total_j(self) -> float:
        return float(sum(self.components_j.values()))

    @property
    def average_power_w(self) -> float:
        return self.total_j / self.duration_s if self.duration_s > 0 else 0.0

    def power_w(self, component: str) -> float:
        return self.components_j[component] / self.duration_s if self.duration_s > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            "duration_s": self.duration_s,
            "total_j": self.total_j,
            "average_power_w": self.average_power_w,
            "components_j": dict(self.components_j),
        }

    def table(self) -> str:
        """A plain-text breakdown (component, joules, share, average watts)."""
        total = self.total_j or 1.0
        lines = [f"{'component':<12} {'energy_j':>14} {'share':>7} {'power_w':>12}"]
        for k, v in self.components_j.items():
            lines.append(f"{k:<12} {v:>14.6e} {v / total:>7.1%} {self.power_w(k):>12.6f}")
        lines.append(f"{'total':<12} {self.total_j:>14.6e} {1:>7.1%} {self.average_power_w:>12.6f}")
        return "\n".join(lines)


def price(counts: Counts, spec) -> EnergyReport:
    """Energy of ``counts`` under the prices of ``spec``."""
    pls = spec.performance_levels
    n_pl = counts.pl["cycles"].shape[1]
    if len(pls) != n_pl:
        raise S2SimError(
            f"cannot price counts recorded with {n_pl} performance levels using a spec with "
            f"{len(pls)} (performance_levels)"
        )
    sleep_w = np.array([float(pl.pe_sleep_power_w.value) for pl in pls])
    e_cycle = np.array([float(pl.pe_active_energy_j_per_cycle.value) for pl in pls])
    e_mac = np.array([float(pl.mla_energy_j_per_mac.value) for pl in pls])
    pw = spec.power
    duration_s = counts.duration_ps / 1e12

    res_s = counts.pl["residency_ps"].astype(np.float64) / 1e12
    sleep_pe = res_s @ sleep_w
    active_pe = counts.pl["cycles"].astype(np.float64) @ e_cycle
    mla_pe = counts.pl["macs"].astype(np.float64) @ e_mac
    dma_bytes_pe = counts.pe["dma_bytes"].sum(axis=1).astype(np.float64)
    dram_bytes_pe = counts.pe["dram_bytes"].sum(axis=1).astype(np.float64)
    switches_pe = counts.pe["pl_switches"].sum(axis=1).astype(np.float64)
    dram_pe = dram_bytes_pe * float(pw.dram_energy_j_per_byte.value)
    sram_pe = dma_bytes_pe * float(pw.sram_energy_j_per_byte.value)
    dvfs_pe = switches_pe * float(pw.pl_switch_energy_j.value)
    link_bits = float(counts.noc["link_packets"].sum()) * float(spec.links.link_packet_bits.value)

    comps = {
        "chip_floor": float(pw.chip_off_power_w.value) * duration_s,
        "pe_sleep": float(sleep_pe.sum()),
        "pe_active": float(active_pe.sum()),
        "mla": float(mla_pe.sum()),
        "noc": float(counts.noc["hops"].sum()) * float(pw.noc_energy_j_per_hop.value),
        "router": float(counts.noc["router_lookups"].sum())
        * float(pw.router_energy_j_per_packet.value),
        "chip_links": link_bits * float(spec.links.link_energy_j_per_bit.value),
        "dram": float(dram_pe.sum()),
        "sram": float(sram_pe.sum()),
        "dvfs": float(dvfs_pe.sum()),
    }
    per_pe = sleep_pe + active_pe + mla_pe + dram_pe + sram_pe + dvfs_pe
    return EnergyReport(components_j=comps, per_pe_j=per_pe, duration_s=duration_s)
