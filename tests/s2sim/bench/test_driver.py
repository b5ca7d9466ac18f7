"""s2sim.bench.driver: the skeleton of the bench drivers, called directly."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import s2sim.compiler.compile
from s2sim.bench.driver import (
    AUTO_TICK_RETRIES,
    Bench,
    performance_level,
    run_lengthening_auto_tick,
)


def _fake_compile(monkeypatch, calls):
    def compile_network(net, tick_period_s=None, **kw):
        calls.append(tick_period_s)
        return SimpleNamespace(tick_period_ps=round(tick_period_s * 1e12), pl=0)

    monkeypatch.setattr(s2sim.compiler.compile, "compile_network", compile_network)


def _runs(overruns):
    seen = []

    def run(mapping):
        seen.append(mapping.tick_period_ps)
        return SimpleNamespace(tick_overruns=overruns(len(seen)), latency_ps=[1])
    return run, seen


def test_auto_tick_is_lengthened_by_a_quarter_while_the_run_overruns(tmp_path, monkeypatch):
    calls = []
    _fake_compile(monkeypatch, calls)
    bench = Bench(out=tmp_path, quiet=True)
    run, seen = _runs(lambda n: 3 if n < 3 else 0)
    m0 = SimpleNamespace(tick_period_ps=100_000_000)  # 100 us
    mapping, result = run_lengthening_auto_tick(bench, None, m0, "auto", run, "des")
    assert seen == [100_000_000, 125_000_000, 157_000_000]  # ceil to whole microseconds
    assert result.tick_overruns == 0 and bench.parts["mapping"] is mapping
    assert len(bench.notes) == 2 and "gave 3 tick overruns on the des engine" in bench.notes[0]


def test_retries_are_bounded_and_explicit_ticks_never_rerun(tmp_path, monkeypatch):
    calls = []
    _fake_compile(monkeypatch, calls)
    run, seen = _runs(lambda n: 1)
    m0 = SimpleNamespace(tick_period_ps=100_000_000)
    run_lengthening_auto_tick(Bench(out=tmp_path, quiet=True), None, m0, "auto", run, "des")
    assert len(seen) == 1 + AUTO_TICK_RETRIES
    run, seen = _runs(lambda n: 1)
    run_lengthening_auto_tick(Bench(out=tmp_path, quiet=True), None, m0, 1e-4, run, "des")
    assert len(seen) == 1


def test_say_is_silent_when_quiet_and_the_pl_comes_from_the_mapping(tmp_path, capsys):
    bench = Bench(out=tmp_path, quiet=True)
    bench.enter("compiling", say=True)
    assert bench.stage == "compiling" and capsys.readouterr().err == ""
    Bench(out=tmp_path).say("hello")
    assert "hello" in capsys.readouterr().err
    assert performance_level(bench, None) == -1 and performance_level(bench, 0) == 0
    bench.parts["mapping"] = SimpleNamespace(pl=1)
    assert performance_level(bench, 0) == 1


@pytest.mark.parametrize("complete", [True, False])
def test_the_report_carries_the_stage_when_interrupted(tmp_path, complete):
    from s2sim.report.io import load_report
    from s2sim.report.schema import Workload

    wl = Workload(kind="lm", model_name="m", model_source="s", data_source="-", n_steps=2,
                  step_name="token", steps_per_sequence=2, engine="functional",
                  performance_level=-1, seed=0, command=["s2sim"])
    bench = Bench(out=tmp_path, quiet=True)
    bench.enter("running")
    if complete:
        bench.finish(wl, plots=False)
    else:
        bench.interrupted(wl)
    rep = load_report(tmp_path)
    assert rep.complete == complete
    assert complete or "while running" in rep.incomplete_reason


def test_bench_folder_holds_the_mapping_it_ran(tmp_path):
    from s2sim.cli import main
    from s2sim.compiler.mapping import Mapping

    out = tmp_path / "b"
    assert main(["bench", "lm", "--model", "tests/golden/tiny_lm.npz", "--tokens", "6",
                 "--gpus", "none", "--out", str(out), "--no-plots", "--quiet"]) == 0
    m = Mapping.load(out / "mapping.json")
    import json

    rep = json.loads((out / "report.json").read_text())
    assert len(m.pes_used()) == rep["deployment"]["pes_used"]
    assert m.tick_period_ps == round(rep["s2"]["step_period_s"] * 1e12)
