"""`s2sim validate`: published measurements vs the simulated chip, within documented bounds."""

from __future__ import annotations

import json

import pytest

from s2sim.spec import load_spec
from s2sim.validate import (
    BOUND_CALIBRATED_PCT,
    BOUND_SYNAPTIC_PCT,
    BOUND_SYNAPTIC_PE_PCT,
    Row,
    neuron_cycles,
    row_cycles,
    synapse_cycles,
    table_text,
)

TICKS = 4


def test_workload_cycles_follow_the_spec_table():
    spec = load_spec(overrides={"cpu.sram_wait_cycles": 0})
    # LDR 2 + LDRH 2 + 10 ALU + STRH 1 + taken branch 3
    assert synapse_cycles(spec) == 18
    assert row_cycles(spec, 100) == row_cycles(spec, 0) + 100 * 18
    assert neuron_cycles(spec) == 23
    slow = load_spec(overrides={"cpu.sram_wait_cycles": 0, "cpu.cycles.load": 3,
                                "cpu.cycles.branch_taken": 4})
    assert synapse_cycles(slow) == 18 + 2 + 1
    # every data access (2 loads, 1 store) pays the wait cycles
    waits = load_spec(overrides={"cpu.sram_wait_cycles": 2})
    assert synapse_cycles(waits) == 18 + 3 * 2
    assert row_cycles(slow, 0) > row_cycles(spec, 0)


def test_row_error_and_bound():
    r = Row("x", "W", 2.0, 2.03, 1.0, "calibrated")
    assert r.error_pct == pytest.approx(1.5) and r.within_bound is False
    assert Row("x", "W", 2.0, 1.99, 1.0, "calibrated").within_bound is True
    missing = Row("x", "W", 2.0, None, 1.0, "calibrated", "no PL")
    assert missing.error_pct is None and missing.within_bound is None
    text = table_text([r, missing], "test")
    assert "+1.50%" in text and "OUT OF BOUND" in text and "no PL" in text


@pytest.fixture(scope="module")
def rows():
    pytest.importorskip("s2sim.hw.chip")
    from s2sim.validate import validate

    return validate(load_spec(), ticks=TICKS)


def test_every_published_row_is_simulated(rows):
    names = [r.name for r in rows]
    assert len(rows) == 1 + 2 * 4 + 2
    for needle in ("all PEs off", "asleep, 0.50 V", "asleep, 0.80 V", "busy, 0.50 V",
                   "busy, 0.80 V", "MLA int8 matmul throughput, 0.80 V",
                   "MLA int8 matmul power, 0.50 V", "synaptic events/s per PE",
                   "synaptic events/s per chip"):
        assert any(needle in n for n in names), needle
    assert all(r.simulated is not None and r.simulated > 0 for r in rows)


def test_calibrated_rows_within_one_percent(rows):
    for r in rows:
        if r.basis == "calibrated" and not r.name.startswith("synaptic"):
            assert r.bound_pct == BOUND_CALIBRATED_PCT
            assert abs(r.error_pct) <= BOUND_CALIBRATED_PCT, (r.name, r.error_pct)


def test_power_rows_tight(rows):
    """The pure power rows reproduce the published numbers to 0.1 %."""
    for r in rows:
        if r.name.startswith("chip power"):
            assert abs(r.error_pct) <= 0.1, (r.name, r.error_pct)


def test_synaptic_rows_within_bound(rows):
    per_pe = next(r for r in rows if r.name.startswith("synaptic events/s per PE"))
    chip = next(r for r in rows if r.name.startswith("synaptic events/s per chip"))
    # the per-PE row is calibrated to at or below the published maximum, within 5 %
    assert per_pe.basis == "calibrated" and per_pe.bound_pct == BOUND_SYNAPTIC_PE_PCT
    assert per_pe.simulated <= per_pe.published
    assert abs(per_pe.error_pct) <= BOUND_SYNAPTIC_PE_PCT, per_pe.error_pct
    assert chip.basis == "predicted" and chip.bound_pct == BOUND_SYNAPTIC_PCT
    assert abs(chip.error_pct) <= BOUND_SYNAPTIC_PCT, chip.error_pct
    # neuron updates take cycles away from synapses
    assert chip.simulated < per_pe.simulated * 152


def test_sram_wait_cycles_is_the_smallest_that_respects_the_ceiling():
    from s2sim.validate import simulate_synaptic

    spec = load_spec()
    fastest = len(spec.performance_levels) - 1
    n = len(spec.pe_ids())
    cap = spec.calibration.synaptic_events_per_s_per_pe.value
    w = int(spec.cpu.sram_wait_cycles.value)
    assert simulate_synaptic(spec, fastest, TICKS, 0) / n <= cap
    fewer = load_spec(overrides={"cpu.sram_wait_cycles": w - 1})
    assert simulate_synaptic(fewer, fastest, TICKS, 0) / n > cap


def test_wrong_model_is_caught():
    """A 10 % error in a per-PE price shows up as an out-of-bound row."""
    pytest.importorskip("s2sim.hw.chip")
    from s2sim.validate import simulate_power

    spec = load_spec(overrides={"performance_levels.0.pe_sleep_power_w": 1.16e-3})
    watts = simulate_power(spec, "asleep", 0, TICKS)
    pub = spec.calibration.levels[0].chip_asleep_power_w.value
    assert abs(watts - pub) / pub > 0.05


def test_unmatched_pl_is_reported_not_simulated():
    pytest.importorskip("s2sim.hw.chip")
    from s2sim.validate import validate

    spec = load_spec(overrides={"performance_levels.1.frequency_hz": "350e6"})
    rows = validate(spec, ticks=3)
    skipped = [r for r in rows if r.simulated is None]
    assert len(skipped) == 4
    assert all("no performance level at 0.80 V / 300 MHz" in r.note for r in skipped)


def test_cli_json(capsys):
    pytest.importorskip("s2sim.hw.chip")
    from s2sim.cli import main

    rc = main(["validate", "--json", "--ticks", "3", "--check"])
    out = capsys.readouterr().out
    d = json.loads(out)
    assert rc == 0 and d["all_within_bounds"] is True
    assert {"name", "published", "simulated", "error_pct", "bound_pct", "basis"} <= set(
        d["rows"][0])


def test_cli_bad_ticks(capsys):
    pytest.importorskip("s2sim.hw.chip")
    from s2sim.cli import main

    assert main(["validate", "--ticks", "2"]) == 2
    assert "--ticks must be >= 3" in capsys.readouterr().err


def test_cli_check_fails_on_a_wrong_model(capsys):
    pytest.importorskip("s2sim.hw.chip")
    from s2sim.cli import main

    rc = main(["validate", "--ticks", "3", "--check",
               "--set", "performance_levels.0.pe_sleep_power_w=1.2e-3"])
    out = capsys.readouterr().out
    assert rc == 1
    bad = [line for line in out.splitlines() if "OUT OF BOUND" in line]
    assert bad and all("0.50 V" in line for line in bad)
    assert "published SpiNNaker2 measurements vs simulated" in out
