"""`s2sim compile` / `s2sim run`: model names from the one resolver, the auto tick by default."""

from __future__ import annotations

import json

import pytest

from s2sim.cli import main


def test_compile_small_with_defaults_uses_the_auto_tick(tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["compile", "small", "--out", str(out)]) == 0
    auto = tmp_path / "auto.json"
    assert main(["compile", "small", "--tick-s", "auto", "--out", str(auto)]) == 0
    m, a = json.loads(out.read_text()), json.loads(auto.read_text())
    assert m["tick_period_ps"] == a["tick_period_ps"] != 1_000_000_000  # not the spec's 1 ms
    assert m["network_ref"] == "small"  # a shipped model by its name: found in any checkout
    assert main(["compile", "small", "--tick-s", "spec", "--out", str(auto)]) == 0
    assert json.loads(auto.read_text())["tick_period_ps"] == 1_000_000_000


def test_run_gesture_by_name_and_its_mapping_from_json(tmp_path, capsys):
    m = tmp_path / "g.json"
    assert main(["compile", "gesture", "--out", str(m)]) == 0
    assert main(["run", str(m), "--tokens", "2", "--engine", "analytic",
                 "--out", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["run"]["result"]["n_steps"] == 2


def test_unknown_model_is_one_line(tmp_path, capsys):
    assert main(["compile", "huge", "--out", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "small" in err and "paper" in err and "gesture" in err


@pytest.mark.slow
def test_compile_paper_with_defaults(tmp_path):
    assert main(["compile", "paper", "--out", str(tmp_path / "m.json")]) == 0
