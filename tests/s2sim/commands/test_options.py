"""s2sim.commands.options: the one --tick-s parser."""

from __future__ import annotations

import argparse

import pytest

from s2sim.commands.options import add_tick_argument, parse_tick, tick_period_s


@pytest.mark.parametrize("text, value", [("auto", "auto"), ("spec", "spec"), ("1e-3", 1e-3),
                                         ("0.0005", 0.0005)])
def test_accepts_seconds_auto_and_spec(text, value):
    assert parse_tick(text) == value


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "fast", ""])
def test_refuses_what_is_not_a_tick(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_tick(text)


def test_spec_means_the_compilers_default():
    assert tick_period_s("spec") is None and tick_period_s(None) is None
    assert tick_period_s("auto") == "auto" and tick_period_s(2e-3) == 2e-3


def test_default_is_auto_and_bad_values_exit_2(capsys):
    p = argparse.ArgumentParser(prog="x")
    add_tick_argument(p)
    assert p.parse_args([]).tick_s == "auto"
    assert p.parse_args(["--tick-s", "0.002"]).tick_s == 0.002
    with pytest.raises(SystemExit) as exc:
        p.parse_args(["--tick-s", "nan"])
    assert exc.value.code == 2 and "nan" in capsys.readouterr().err


def test_estimate_is_a_tick_choice():
    assert parse_tick("estimate") == "estimate"


def _cli(argv, capsys):
    from s2sim.cli import main

    rc = main(argv)
    return rc, capsys.readouterr()


@pytest.mark.parametrize("argv, needle", [
    (["compile", "small", "--pes", "0", "--out", "m.json"], "--pes"),
    (["compile", "small", "--pes", "999", "--out", "m.json"], "--pes 999"),
    (["compile", "small", "--pes", "x", "--out", "m.json"], "--pes"),
    (["compile", "small", "--index-bits", "12", "--out", "m.json"], "--index-bits"),
    (["compile", "small", "--objective", "speed", "--out", "m.json"], "--objective"),
    (["compile", "small", "--tick-margin", "-1", "--out", "m.json"], "--tick-margin"),
    (["run", "small", "--tokens", "3", "--check-des", "0", "--out", "r.json"], "--check-des"),
    (["bench", "lm", "--compile-option", "nonsense", "--out", "b"], "--compile-option"),
    (["bench", "lm", "--compile-option", "warp=9", "--tokens", "3", "--out", "b"], "warp"),
])
def test_bad_deployment_options_are_one_line_errors(argv, needle, capsys, tmp_path,
                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out = _cli(argv, capsys)
    err = [line for line in out.err.splitlines() if line.strip()]
    assert rc == 2 and needle in err[-1] and "Traceback" not in out.err
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "r.json").exists()


def test_run_with_check_des_records_the_cross_check(capsys, tmp_path):
    import json

    out = tmp_path / "r.json"
    rc, res = _cli(["run", "small", "--tokens", "12", "--engine", "analytic", "--pes", "8",
                    "--check-des", "6", "--out", str(out)], capsys)
    assert rc == 0, res.err
    doc = json.loads(out.read_text())
    assert doc["run"]["mapping"]["pes_used"] == 8
    assert doc["check_des"]["steps"] == 6 and doc["check_des"]["event_mismatches"] == 0
    assert doc["run"]["tick_choice"]["method"] == "auto"
    assert doc["run"]["result"]["mismatches"]["event_mismatches"] is None  # analytic: not checked
    assert "--check-des 6" in res.out


def test_auto_tick_is_shorter_than_the_estimate_on_the_small_model(capsys, tmp_path):
    import json

    ticks = {}
    for mode in ("auto", "estimate"):
        out = tmp_path / f"{mode}.json"
        rc, res = _cli(["run", "small", "--tokens", "30", "--engine", "analytic", "--tick-s",
                        mode, "--out", str(out)], capsys)
        assert rc == 0, res.err
        doc = json.loads(out.read_text())
        result = doc["run"]["result"]
        assert result["tick_overruns"] == 0 and result["dropped_packets"] == 0
        ticks[mode] = doc["run"]["mapping"]["tick_period_ps"]
    assert ticks["auto"] < 400e6 < ticks["estimate"]  # < 400 us, the bound
