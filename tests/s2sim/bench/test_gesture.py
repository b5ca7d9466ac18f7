"""`s2sim bench gesture`: runs with the shipped checkpoint and no data set; chip == functional."""

from __future__ import annotations

import json

import numpy as np
import pytest

from s2sim.cli import main


def _run(tmp_path, *extra):
    out = tmp_path / "bench"
    rc = main(["bench", "gesture", "--out", str(out), "--no-plots", "--quiet", "--gpus", "a100",
               "--accuracy-samples", "22", *extra])
    assert rc == 0
    rep = json.loads((out / "report.json").read_text())
    return out, rep


def test_bench_gesture_functional_without_data(tmp_path, monkeypatch):
    monkeypatch.delenv("S2SIM_DATA", raising=False)
    out, rep = _run(tmp_path, "--engine", "functional", "--samples", "3")
    assert rep["workload"]["kind"] == "gesture" and rep["workload"]["step_name"] == "frame"
    assert "synthetic" in rep["workload"]["data_source"]
    assert "not accuracy on the real data set" in rep["workload"]["data_note"]
    q = rep["quality"]["metrics"]
    assert q["chip_samples"] == 3 and q["chip_functional_agreement"] == 1.0
    assert q["accuracy"] > 3 / 11  # far above chance (1/11) even on 22 samples
    assert rep["gpu"] and rep["gpu"][0]["gpu_key"] == "a100"
    assert (out / "per_step.csv").exists()


@pytest.mark.parametrize("pl", ["0", "1"])
def test_bench_gesture_on_the_simulated_chip(tmp_path, monkeypatch, pl):
    pytest.importorskip("s2sim.engine.des")
    monkeypatch.delenv("S2SIM_DATA", raising=False)
    out, rep = _run(tmp_path, "--engine", "des", "--samples", "3", "--pl", pl)
    assert rep["workload"]["performance_level"] == int(pl)
    q = rep["quality"]["metrics"]
    # functional and simulated-chip predictions agree on every simulated sample
    assert q["chip_functional_agreement"] == 1.0
    assert rep["s2"]["energy_per_step_j"] > 0 and rep["s2"]["latency_per_step_mean_s"] > 0
    assert rep["s2"]["event_mismatches"] == 0
    assert rep["ratios"] and rep["ratios"][0]["gpu_key"] == "a100"
    study = json.loads((out / "auto_pl.json").read_text())
    for sc in study["scenarios"].values():
        runs = sc["runs"]
        assert sc["auto_misses_where_high_meets"] == 0
        auto = runs[f"auto ({study['policy']})"]
        fixed = [v for k, v in runs.items() if k.startswith("fixed")]
        assert auto["chip_energy_j"] <= max(f["chip_energy_j"] for f in fixed) * (1 + 1e-9)
    # the replay's timeline prices a fixed PL exactly as the simulated chip did at that PL
    pl_name = study["pl_names"][rep["workload"]["performance_level"]]
    replay = study["scenarios"]["tick"]["runs"][f"fixed {pl_name}"]
    assert replay["chip_energy_j"] == pytest.approx(rep["s2"]["energy_total_j"], rel=1e-9)
    # the tight scenario forces the slow PL to miss and the policy to mix levels
    tight = study["scenarios"]["tight"]["runs"]
    slow = min((k for k in tight if k.startswith("fixed")), key=lambda k: tight[k]["energy_j"])
    assert tight[slow]["deadline_misses"] > 0
    assert tight[f"auto ({study['policy']})"]["deadline_misses"] == 0


def test_bench_gesture_reads_the_release_layout(tmp_path, monkeypatch):
    """--data with AEDAT recordings + labels in the release's naming is read instead of
    generating data (here: synthetic recordings written in that layout)."""
    from models.egru.gesture.synthetic import SyntheticConfig, write_synthetic_dataset

    data = tmp_path / "DvsGesture"
    write_synthetic_dataset(data, [24, 25], SyntheticConfig(repeats=1, seed=3), npy=False)
    out, rep = _run(tmp_path, "--engine", "functional", "--samples", "1", "--data", str(tmp_path))
    assert "DVS128 Gesture test users" in rep["workload"]["data_source"]
    assert rep["quality"]["metrics"]["accuracy"] > 3 / 11


def test_bench_gesture_bad_data_is_one_line(tmp_path, capsys):
    data = tmp_path / "DvsGesture"
    data.mkdir()
    (data / "user24_led.aedat").write_bytes(b"#!AER-DAT2.0\r\n")
    rc = main(["bench", "gesture", "--data", str(tmp_path), "--out", str(tmp_path / "o"),
               "--quiet", "--engine", "functional"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "user24_led.aedat" in err[0]


def test_merge_results_sums_and_concatenates():
    from s2sim.engine.result import RunResult, merge_results

    def rr(T, v):
        return RunResult(engine="functional", n_steps=T, n_layers=1,
                         outputs=np.full((T, 2), v, np.float32),
                         layer_outputs=[np.full((T, 2), v, np.float32)],
                         events_per_step=np.ones((T, 1), np.int64),
                         input_events=np.ones(T, np.int64), activation_sparsity=[0.0],
                         effective_macs_per_step=np.full(T, 3, np.int64), dense_macs_per_step=9)

    m = merge_results([rr(2, 1.0), rr(3, 0.0)])
    assert m.n_steps == 5 and m.outputs.shape == (5, 2) and m.effective_macs == 15
    assert m.activation_sparsity == [pytest.approx(0.6)]


@pytest.mark.slow
def test_chip_agrees_with_functional_on_every_held_out_sample(tmp_path, monkeypatch):
    """All 132 held-out synthetic samples on the discrete-event chip (minutes on 2 cores)."""
    pytest.importorskip("s2sim.engine.des")
    monkeypatch.delenv("S2SIM_DATA", raising=False)
    out = tmp_path / "all"
    assert main(["bench", "gesture", "--out", str(out), "--no-plots", "--quiet", "--gpus", "none",
                 "--engine", "des", "--samples", "1000"]) == 0
    rep = json.loads((out / "report.json").read_text())
    q = rep["quality"]["metrics"]
    assert q["chip_samples"] == 132 and q["chip_functional_agreement"] == 1.0
    assert rep["s2"]["event_mismatches"] == 0 and rep["s2"]["value_mismatches"] == 0


def test_bench_gesture_folder_mapping_reproduces_the_folder_byte_for_byte(tmp_path, monkeypatch):
    """--mapping the folder's mapping.json: no compile, the same report (compile options away
    from their defaults, so that the mapping, not a recompile, must carry them)."""
    monkeypatch.delenv("S2SIM_DATA", raising=False)
    opts = ["--samples", "1", "--accuracy-samples", "11", "--gpus", "a100", "--no-plots",
            "--quiet"]
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["bench", "gesture", "--out", str(a), "--pl", "0", "--placer", "linear",
                 *opts]) == 0
    assert main(["bench", "gesture", "--mapping", str(a / "mapping.json"), "--out", str(b),
                 *opts]) == 0
    for f in ("report.json", "mapping.json", "auto_pl.json", "per_pe.csv", "per_step.csv"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    command = json.loads((b / "report.json").read_text())["workload"]["command"]
    assert command[-4:] == ["--pl", "0", "--placer", "linear"] and "--mapping" not in command


def test_a_moved_gesture_folder_reruns_from_its_mapping(tmp_path, monkeypatch):
    """A gesture checkpoint given by a relative path: mapping.json stores it relative to the
    folder, so the pair moved elsewhere reruns to the same report from another folder."""
    import shutil

    from models.egru.gesture.model import DEFAULT_CHECKPOINT

    monkeypatch.delenv("S2SIM_DATA", raising=False)
    opts = ["--samples", "1", "--accuracy-samples", "11", "--engine", "analytic", "--gpus",
            "none", "--no-plots", "--quiet"]
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copy(DEFAULT_CHECKPOINT, proj / "g.npz")
    monkeypatch.chdir(proj)
    assert main(["bench", "gesture", "--model", "g.npz", "--out", "runs/a", *opts]) == 0
    mapping = json.loads((proj / "runs" / "a" / "mapping.json").read_text())
    assert mapping["network_ref"] == "gesture:../../g.npz"
    moved = tmp_path / "elsewhere"
    shutil.move(proj, moved)
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "gesture", "--mapping", str(moved / "runs" / "a" / "mapping.json"),
                 "--out", str(moved / "runs" / "b"), *opts]) == 0
    for f in ("report.json", "mapping.json"):
        assert (moved / "runs" / "a" / f).read_bytes() == (moved / "runs" / "b" / f).read_bytes()
