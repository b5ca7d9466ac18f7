"""`s2sim chip`: text summary, JSON keys, overrides, one-line errors, determinism."""

from __future__ import annotations

import json

import pytest
import yaml

from s2sim.cli import main
from s2sim.spec import bundled_spec_text


def run(capsys, *argv) -> tuple[int, str, str]:
    rc = main(["chip", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_text_summary(capsys):
    rc, out, err = run(capsys)
    assert rc == 0 and not err
    assert "152 application PEs in 38 QPEs x 4" in out
    assert "148 usable" in out
    assert "SRAM per PE: 131072 B (128 KiB" in out
    assert "code 32 KiB + data 96 KiB" in out
    # the QPE map: 6 rows of 7 columns, router in the (4,3) gap, (4,4) and (7,3..4) empty
    rows = [line for line in out.splitlines() if line.startswith("  qy ")]
    assert len(rows) == 6
    cells = {int(r.split()[1]): r.split()[2:] for r in rows}
    assert cells[3] == ["Q", "Q", "Q", "R", "Q", "Q", "."]
    assert cells[4] == ["Q", "Q", "Q", ".", "Q", "Q", "."]
    assert sum(row.count("Q") + row.count("E") for row in cells.values()) == 38
    assert "PL0" in out and "PL1" in out and "235.4 mW" in out and "1.248 W" in out
    assert "Estimates (EST" in out and "power.noc_energy_j_per_hop" in out


def test_json_required_keys(capsys):
    rc, out, _ = run(capsys, "--json")
    assert rc == 0
    d = json.loads(out)
    assert d["pes"] == 152 and d["qpes"] == 38 and d["sram_bytes_per_pe"] == 131072
    assert [(p["voltage_v"], p["frequency_hz"]) for p in d["performance_levels"]] == [
        (0.5, 150e6), (0.8, 300e6)]
    assert d["spec"]["noc"]["cycles_per_hop"] == {"value": 5, "source": "CP",
                                                   "note": "NoC cycles per router hop"}
    assert any(e["path"] == "power.dram_energy_j_per_byte" for e in d["estimates"])
    # the model reproduces the calibration rows it was derived from
    pl1 = d["performance_levels"][1]
    assert pl1["chip_all_asleep_power_w"] == pytest.approx(0.5647, rel=1e-5)
    assert pl1["chip_all_busy_power_w"] == pytest.approx(1.2479, rel=1e-5)


def test_json_deterministic(capsys):
    _, a, _ = run(capsys, "--json")
    _, b, _ = run(capsys, "--json")
    _, c, _ = run(capsys)
    _, d, _ = run(capsys)
    assert a == b and c == d


def test_set_overrides(capsys):
    rc, out, _ = run(capsys, "--json", "--set", "performance_levels.1.frequency_hz=350e6",
                     "--set", "memory.sram_bytes_per_pe=262144")
    assert rc == 0
    d = json.loads(out)
    assert d["performance_levels"][1]["frequency_hz"] == 350e6
    assert d["sram_bytes_per_pe"] == 262144
    assert {o["path"] for o in d["overrides"]} == {"performance_levels.1.frequency_hz",
                                                   "memory.sram_bytes_per_pe"}
    assert d["spec"]["memory"]["sram_bytes_per_pe"]["source"] == "USER"
    rc, out, _ = run(capsys, "--set", "noc.cycles_per_hop=4")
    assert "Overrides (USER, 1)" in out and "noc.cycles_per_hop = 4" in out


def test_spec_file_what_if(capsys, tmp_path):
    raw = yaml.safe_load(bundled_spec_text())
    pl = raw["performance_levels"]
    raw["performance_levels"] = pl + [dict(pl[1], name="PL2", frequency_hz={
        "value": 4.0e8, "source": "USER", "note": "what-if"})]
    p = tmp_path / "whatif.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    rc, out, _ = run(capsys, "--spec", str(p), "--json")
    d = json.loads(out)
    assert rc == 0 and len(d["performance_levels"]) == 3 and d["spec_file"] == str(p)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--set", "organisation.application_pes=0"], "organisation.application_pes: must be > 0"),
        (["--set", "noc.frequency_hz=-1"], "noc.frequency_hz: must be > 0"),
        (["--set", "noc.frequency_hz"], "expected KEY=VALUE"),
        (["--set", "noc.nope=3"], "no field 'nope' in noc"),
        (["--spec", "/nonexistent/chip.yaml"], "/nonexistent/chip.yaml: file not found"),
    ],
)
def test_errors_one_line(capsys, argv, needle):
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and not out
    assert err.count("\n") == 1 and err.startswith("s2sim: error: ") and needle in err, err
