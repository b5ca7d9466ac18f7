"""`s2sim bench lm` end to end on a tiny model (seconds), plus diff on a worse mapping."""

import json
from pathlib import Path

import numpy as np
import pytest

from models.egru.checkpoint import save_checkpoint
from models.egru.paper import paper_shape_model
from s2sim.cli import main
from s2sim.report.io import load_report

ENGINE = "analytic"  # the default engine: prices the firmware op counts (cross-checked vs des)
DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    model = paper_shape_model(seed=5, vocab_size=48, embedding_dim=16, layers=(32, 16),
                              activity=(0.25, 0.25))
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.npz", model)


def _bench(ckpt, out, *extra):
    return main(["bench", "lm", "--model", str(ckpt), "--tokens", "30", "--engine", ENGINE,
                 "--out", str(out), "--no-plots", "--quiet", *extra])


def test_bench_lm_without_data_prints_table_and_writes_report(tiny_ckpt, tmp_path, capsys):
    assert _bench(tiny_ckpt, tmp_path) == 0
    out = capsys.readouterr().out
    assert f"SpiNNaker2 ({ENGINE}" in out and "NVIDIA A100" in out and "Jetson AGX Orin" in out
    assert "self-generated" in out
    rep = load_report(tmp_path)
    assert rep.complete and rep.workload.n_steps == 30
    assert rep.s2.energy_per_step_j > 0 and rep.s2.latency_per_step_mean_s > 0
    assert rep.s2.energy_by_component_j and rep.deployment.pes_used >= 1
    assert len(rep.per_step) == 30 and len(rep.per_pe) == rep.deployment.pes_used
    # per-tick energies come from pricing one-tick slices of the counts; they are part of the
    # total (the ticks after the last token's input, draining the pipeline, are the rest)
    ticks = [r.tick_energy_j for r in rep.per_step]
    assert all(e is not None and e > 0 for e in ticks)
    assert sum(ticks) < rep.s2.energy_total_j
    assert sum(p.energy_j for p in rep.per_pe) < rep.s2.energy_total_j  # + floor, NoC, router
    gpus = {"a100", "h100", "h200", "rtx4090", "orin"}
    assert {r.gpu_key for r in rep.ratios} == gpus | {f"{k}-graph" for k in gpus}
    assert all(r.energy_gpu_over_s2_low <= r.energy_gpu_over_s2 <= r.energy_gpu_over_s2_high
               for r in rep.ratios)
    assert rep.quality is None  # no data, no perplexity
    for f in ("per_pe.csv", "per_step.csv", "gpu.csv", "mapping.json"):
        assert (tmp_path / f).is_file()
    assert not (tmp_path / "pe_timeline.png").exists()  # --no-plots


def test_identical_runs_are_byte_identical_and_diff_exits_0(tiny_ckpt, tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert _bench(tiny_ckpt, a) == 0 and _bench(tiny_ckpt, b) == 0
    assert (a / "report.json").read_bytes() == (b / "report.json").read_bytes()
    capsys.readouterr()
    assert main(["diff", str(a), str(b)]) == 0
    assert "no metric changed" in capsys.readouterr().out


def test_worse_mapping_makes_diff_exit_1_naming_the_metric(tiny_ckpt, tmp_path, capsys):
    good, bad = tmp_path / "good", tmp_path / "bad"
    assert _bench(tiny_ckpt, good) == 0
    assert _bench(tiny_ckpt, bad, "--placer", "random", "--seed", "3") == 0
    g, b = load_report(good), load_report(bad)
    assert b.s2.hops_per_step_mean > g.s2.hops_per_step_mean  # scattered PEs: longer routes
    capsys.readouterr()
    assert main(["diff", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert "s2.hops_per_step_mean" in out and "WORSE" in out


def test_measured_gpu_results_are_folded_in(tiny_ckpt, tmp_path, capsys):
    from s2sim.baselines.result import GpuBaselineResult

    m = GpuBaselineResult(gpu_key="measured-test", gpu_name="Test GPU", method="measured",
                          label="measured on Test GPU", model_name="tiny",
                          latency_per_token_s=1e-4, energy_per_token_j=1e-2, average_power_w=100,
                          latency_per_sequence_s=7e-3, energy_per_sequence_j=0.7)
    f = tmp_path / "gpu_measured.json"
    f.write_text(json.dumps([m.model_dump(mode="json")]))
    assert _bench(tiny_ckpt, tmp_path / "o", "--gpus", "a100", "--gpu-measured", str(f)) == 0
    assert "measured on Test GPU" in capsys.readouterr().out
    rep = load_report(tmp_path / "o")
    assert [g.gpu_key for g in rep.gpu] == ["a100", "a100-graph", "measured-test"]
    assert rep.gpu[-1].energy_per_token_low_j is None  # a measured row has no model band


def test_bad_inputs_give_one_line_errors(tiny_ckpt, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert _bench(tiny_ckpt, tmp_path / "o", "--gpu-measured", str(bad)) == 2
    assert _bench(tiny_ckpt, tmp_path / "o", "--gpus", "v100") == 2
    assert main(["bench", "lm", "--model", str(tmp_path / "nope.npz"), "--quiet"]) == 2
    errs = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("s2sim: error:")]
    assert len(errs) == 3
    assert "bad.json" in errs[0] and "v100" in errs[1] and "nope.npz" in errs[2]


def test_interrupt_leaves_a_complete_report_marked_incomplete(tiny_ckpt, tmp_path, monkeypatch):
    import s2sim.engine

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(s2sim.engine, "run_mapping", interrupted)
    assert main(["bench", "lm", "--model", str(tiny_ckpt), "--tokens", "10", "--out",
                 str(tmp_path), "--quiet"]) == 130
    rep = load_report(tmp_path)
    assert not rep.complete and "running 10 tokens" in rep.incomplete_reason
    assert rep.gpu and rep.deployment is not None and rep.s2 is None


@pytest.mark.skipif(not (DATA / "ptb" / "ptb.test.txt").is_file(), reason="no PTB data")
def test_with_data_scores_perplexity(tmp_path):
    model = paper_shape_model(seed=5, vocab_size=10000, embedding_dim=16, layers=(24, 16),
                              activity=(0.25, 0.25))
    ckpt = save_checkpoint(tmp_path / "ptbshape.npz", model)
    assert main(["bench", "lm", "--model", str(ckpt), "--data", str(DATA), "--tokens", "20",
                 "--engine", ENGINE,
                 "--ppl-tokens", "300", "--gpus", "none", "--out", str(tmp_path / "o"),
                 "--no-plots", "--quiet"]) == 0
    rep = load_report(tmp_path / "o")
    assert rep.workload.data_source.startswith("ptb test split")
    ppl = rep.quality.metrics["test_perplexity"]
    assert rep.quality.tokens_scored == 299
    assert np.isfinite(ppl) and ppl > 1
    assert "functional path (numpy reference)" in rep.quality.source
    # a run that covers the scored tokens scores them from its own reference pass: the same
    # perplexity, bit for bit, without a second pass
    assert main(["bench", "lm", "--model", str(ckpt), "--data", str(DATA), "--tokens", "300",
                 "--engine", ENGINE, "--ppl-tokens", "300", "--gpus", "none", "--out",
                 str(tmp_path / "s"), "--no-plots", "--quiet"]) == 0
    same = load_report(tmp_path / "s").quality
    assert "the same pass" in same.source and same.tokens_scored == 299
    assert same.metrics["test_perplexity"] == ppl
    # generated (untrained) weights: perplexity is only scored when asked for
    assert main(["bench", "lm", "--model", str(ckpt), "--data", str(DATA), "--tokens", "5",
                 "--engine", "functional", "--gpus", "none", "--out", str(tmp_path / "p"),
                 "--no-plots", "--quiet"]) == 0
    rep = load_report(tmp_path / "p")
    assert rep.quality is None and any("perplexity not scored" in n for n in rep.notes)


def test_auto_tick_is_lengthened_when_the_run_overruns(tiny_ckpt, tmp_path, monkeypatch):
    import s2sim.engine

    real = s2sim.engine.run_mapping
    calls = []

    def first_run_overruns(mapping, *a, **k):
        res = real(mapping, *a, **k)
        calls.append(mapping.tick_period_ps)
        if len(calls) == 1:
            res.tick_overruns = 5  # as if a PE were still busy when its next tick fired
        return res

    monkeypatch.setattr(s2sim.engine, "run_mapping", first_run_overruns)
    assert _bench(tiny_ckpt, tmp_path) == 0
    assert len(calls) == 2 and calls[1] >= 1.25 * calls[0] - 1e6
    rep = load_report(tmp_path)
    assert rep.s2.step_period_s == pytest.approx(calls[1] * 1e-12)
    assert any("gave 5 tick overruns" in n and "rerun at" in n for n in rep.notes)
    # an explicit tick is the user's choice: no rerun
    calls.clear()
    assert _bench(tiny_ckpt, tmp_path / "fixed", "--tick-s", "0.0001") == 0
    assert len(calls) == 1 and calls[0] == 100_000_000


def test_tokens_all_needs_a_data_set(capsys, monkeypatch, tmp_path):
    from s2sim.cli import main

    monkeypatch.delenv("S2SIM_DATA", raising=False)
    assert main(["bench", "lm", "--tokens", "all", "--out", str(tmp_path / "b")]) == 2
    assert "--tokens all" in capsys.readouterr().err


def test_bench_folder_mapping_reproduces_the_folder_byte_for_byte(tiny_ckpt, tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    # compile options away from the defaults, so that the mapping (not a recompile) must carry them
    assert _bench(tiny_ckpt, a, "--pl", "0", "--placer", "random", "--seed", "3") == 0
    assert (a / "mapping.json").is_file()
    # no --model: the mapping names the model it was compiled for
    assert main(["bench", "lm", "--mapping", str(a / "mapping.json"), "--tokens", "30",
                 "--engine", ENGINE, "--seed", "3", "--out", str(b), "--no-plots",
                 "--quiet"]) == 0
    for f in ("report.json", "mapping.json", "per_pe.csv", "per_step.csv", "gpu.csv"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert "--placer random" in " ".join(load_report(b).workload.command)


def test_a_moved_bench_folder_reruns_from_its_mapping(tiny_ckpt, tmp_path, monkeypatch):
    """mapping.json stores the checkpoint relative to its folder (they share one), so the two
    moved together elsewhere rerun with --mapping, from another working folder, to the same
    report (which names the model as the first run was given it)."""
    import shutil

    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copy(tiny_ckpt, proj / "tiny.npz")
    monkeypatch.chdir(proj)
    assert _bench("tiny.npz", Path("runs") / "a") == 0
    stored = json.loads((proj / "runs" / "a" / "mapping.json").read_text())["network_ref"]
    assert stored == "checkpoint:../../tiny.npz"
    moved = tmp_path / "elsewhere" / "proj"
    shutil.move(proj, moved)
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "lm", "--mapping", str(moved / "runs" / "a" / "mapping.json"),
                 "--tokens", "30", "--engine", ENGINE, "--out", str(moved / "runs" / "b"),
                 "--no-plots", "--quiet"]) == 0
    for f in ("report.json", "mapping.json"):
        assert (moved / "runs" / "a" / f).read_bytes() == (moved / "runs" / "b" / f).read_bytes()
    assert main(["run", str(moved / "runs" / "a" / "mapping.json"), "--tokens", "5",
                 "--engine", ENGINE, "--out", str(tmp_path / "r.json")]) == 0  # and s2sim run


def test_mapping_option_refuses_compile_options_and_other_models(tiny_ckpt, tmp_path, capsys):
    a = tmp_path / "a"
    assert _bench(tiny_ckpt, a) == 0
    m = str(a / "mapping.json")
    capsys.readouterr()
    assert _bench(tiny_ckpt, tmp_path / "o", "--mapping", m, "--pl", "0") == 2
    assert main(["bench", "lm", "--model", "paper", "--mapping", m, "--tokens", "30", "--quiet",
                 "--out", str(tmp_path / "o")]) == 2
    assert main(["bench", "lm", "--model", m, "--tokens", "30", "--quiet",
                 "--out", str(tmp_path / "o")]) == 2  # a mapping given as the model
    errs = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("s2sim: error:")]
    assert len(errs) == 3
    assert "--pl: does not apply with --mapping" in errs[0]
    assert "compiled for another network" in errs[1] and "not --model paper" in errs[1]
    assert "a compiled mapping" in errs[2] and "--mapping FILE" in errs[2]


def test_compile_then_bench_and_run_reports_feed_report_and_diff(tiny_ckpt, tmp_path, capsys):
    m = tmp_path / "m.json"
    assert main(["compile", str(tiny_ckpt), "--out", str(m)]) == 0
    assert main(["bench", "lm", "--mapping", str(m), "--tokens", "30", "--engine", ENGINE,
                 "--out", str(tmp_path / "b"), "--no-plots", "--quiet"]) == 0
    r = tmp_path / "r.json"
    assert main(["run", str(m), "--tokens", "30", "--engine", ENGINE, "--out", str(r)]) == 0
    bench, run = load_report(tmp_path / "b"), load_report(r)  # one schema
    assert bench.deployment.pes_used == run.deployment.pes_used
    assert run.run["mapping"]["pes_used"] == run.deployment.pes_used and bench.run is None
    capsys.readouterr()
    assert main(["report", str(r)]) == 0 and "per token" in capsys.readouterr().out
    assert main(["diff", str(r), str(r)]) == 0 and "no metric changed" in capsys.readouterr().out
    # a run's report against the bench's: the same mapping on different tokens; diff compares
    assert main(["diff", str(tmp_path / "b"), str(r), "--list-metrics"]) == 0


def test_tick_columns_keeps_every_tick_of_a_long_run(tiny_ckpt, tmp_path, monkeypatch):
    """--tick-columns 0: a run longer than the analytic engine's window still has per-tick
    energies (the steady-state split); by default its ledger is binned and has none."""
    import s2sim.engine.analytic as analytic

    monkeypatch.setattr(analytic, "WINDOW_STEPS", 8)
    monkeypatch.setattr(analytic, "MAX_COLUMNS", 4)
    assert _bench(tiny_ckpt, tmp_path / "binned", "--tick-s", "spec") == 0
    assert _bench(tiny_ckpt, tmp_path / "every", "--tick-s", "spec", "--tick-columns", "0") == 0
    binned, every = load_report(tmp_path / "binned"), load_report(tmp_path / "every")
    assert binned.s2.energy_per_step_steady_j is None
    assert every.s2.energy_per_step_steady_j is not None
    assert every.s2.energy_per_step_j == pytest.approx(binned.s2.energy_per_step_j, rel=1e-12)
    assert "--tick-columns" in every.workload.command
