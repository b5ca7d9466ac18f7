"""ChipSpec helpers: PE ids, QPE lookup, performance levels, estimates, sources."""

from __future__ import annotations

import numpy as np
import pytest

from s2sim.errors import SpecError
from s2sim.spec import SOURCES, decode_pe_id, encode_pe_id, load_spec


@pytest.fixture(scope="module")
def spec():
    return load_spec()


def test_pe_ids_encoding(spec):
    ids = spec.pe_ids()
    assert ids == sorted(ids) and len(set(ids)) == 152
    assert ids[0] == (1 << 5) | (1 << 2) | 0
    assert ids[-1] == (7 << 5) | (6 << 2) | 3
    for pe in ids:
        qx, qy, p = decode_pe_id(pe)
        assert encode_pe_id(qx, qy, p) == pe
        assert spec.qpe_of(pe) == (qx, qy)
    # the router gap holds no PEs
    assert encode_pe_id(4, 3, 0) not in ids and encode_pe_id(7, 4, 2) not in ids


@pytest.mark.parametrize("bad", [encode_pe_id(4, 3, 0), -1, 256, encode_pe_id(0, 0, 0)])
def test_qpe_of_rejects_foreign_ids(spec, bad):
    with pytest.raises(SpecError, match=f"PE id {bad} is not a PE"):
        spec.qpe_of(bad)


def test_pl(spec):
    assert spec.pl(0).name == "PL0" and spec.pl(1).voltage_v.value == 0.8
    assert spec.pl(np.int64(1)) is spec.performance_levels[1]
    for bad in (2, -1, 1.0, True, "1"):
        with pytest.raises(SpecError, match=r"levels 0\.\.1"):
            spec.pl(bad)


def test_coords_behave_like_lists(spec):
    coords = spec.organisation.qpe_coords
    assert len(coords) == 38 and coords[0] == (1, 1)
    assert [tuple(c) for c in coords] == spec.qpes()
    x, y = spec.organisation.router_position
    assert (x, y) == (4, 3)


def test_every_leaf_sourced_and_estimates_explained(spec):
    leaves = spec.leaves()
    assert len(leaves) > 80
    assert all(s.source in SOURCES for _, s in leaves)
    est = spec.estimates()
    paths = {p for p, _, _ in est}
    for needed in ("power.noc_energy_j_per_hop", "power.router_energy_j_per_packet",
                   "power.dram_energy_j_per_byte", "power.sram_energy_j_per_byte",
                   "power.pl_switch_energy_j", "timing.packet_queue_depth", "host.bridge_qpe",
                   "accelerators.dma_bytes_per_cycle", "performance_levels.0.pe_sleep_power_w",
                   "performance_levels.1.pe_active_energy_j_per_cycle"):
        assert needed in paths
    assert all(len(note) > 20 for _, _, note in est)
    assert not spec.overridden()


def test_derived_per_pe_model_matches_calibration(spec):
    """The EST per-PE numbers are the published arithmetic (spinnaker2.md)."""
    cal = spec.calibration
    n = spec.organisation.application_pes.value
    for pl, row in zip(spec.performance_levels, cal.levels, strict=True):
        sleep = (row.chip_asleep_power_w.value - cal.chip_off_power_w.value) / n
        active = (row.chip_busy_power_w.value - row.chip_asleep_power_w.value) / n
        active /= row.frequency_hz.value
        mac = (row.mla_power_w.value - row.chip_asleep_power_w.value) / (row.mla_tops.value
                                                                         * 1e12 / 2)
        assert pl.pe_sleep_power_w.value == pytest.approx(sleep, rel=1e-6)
        assert pl.pe_active_energy_j_per_cycle.value == pytest.approx(active, rel=1e-6)
        assert pl.mla_energy_j_per_mac.value == pytest.approx(mac, rel=1e-6)
    assert spec.power.chip_off_power_w.value == cal.chip_off_power_w.value
