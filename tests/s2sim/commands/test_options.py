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
