"""`s2sim compile` and `s2sim run` end to end on a tiny LM checkpoint."""

import json

import numpy as np
import pytest

from models.egru.checkpoint import save_checkpoint
from models.egru.lm import LMModel
from models.egru.reference import EGRUStack
from s2sim.cli import main
from s2sim.compiler.random_net import random_network


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    base = random_network(sizes=(24, 16), n_in=16, density=0.4, seed=2)
    emb = np.random.default_rng(0).standard_normal((40, 16)).astype(np.float32)
    model = LMModel(embedding=emb, stack=EGRUStack(base.layers))
    path = tmp_path_factory.mktemp("ck") / "tiny.npz"
    save_checkpoint(path, model, {"provenance": {"note": "test"}})
    return path


def test_compile_then_run_writes_deterministic_reports(ckpt, tmp_path, capsys):
    mj = tmp_path / "m.json"
    assert main(["compile", str(ckpt), "--max-pes", "10", "--partitioner", "interleaved",
                 "--set", "memory.data_sram_bytes=8000", "--report", "--out", str(mj)]) == 0
    out = capsys.readouterr().out
    assert "## partition (interleaved)" in out and "PEs" in out and "routing" in out
    doc = json.loads(mj.read_text())
    assert doc["format"] == "s2sim-mapping" and doc["spec_overrides"]
    r1, r2 = tmp_path / "r1.json", tmp_path / "r2.json"
    for r in (r1, r2):
        assert main(["run", str(mj), "--tokens", "6", "--engine", "des", "--out", str(r)]) == 0
    assert r1.read_bytes() == r2.read_bytes()
    rep = json.loads(r1.read_text())
    assert rep["run"]["result"]["mismatches"]["event_mismatches"] == 0
    assert rep["run"]["result"]["energy_j"] > 0 and len(rep["run"]["result"]["latency_ps"]) == 6
    assert "mismatches vs oracle: 0 events" in capsys.readouterr().out


def test_run_model_directly_with_input_file(ckpt, tmp_path):
    toks = tmp_path / "t.npy"
    np.save(toks, np.array([1, 2, 3, 39]))
    out = tmp_path / "r.json"
    assert main(["run", str(ckpt), "--input", str(toks), "--engine", "analytic",
                 "--out", str(out)]) == 0
    assert json.loads(out.read_text())["run"]["result"]["n_steps"] == 4


def test_cli_errors_are_one_line(tmp_path, capsys, ckpt):
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert main(["run", str(bad), "--tokens", "2", "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("s2sim: error:") and "bad.json" in err and err.count("\n") == 1
    assert not (tmp_path / "r.json").exists()
    assert main(["compile", str(tmp_path / "none.npz"), "--out", str(tmp_path / "m.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["compile", str(ckpt), "--set", "router.table_entries=1",
                 "--out", str(tmp_path / "m.json")]) == 2
    assert "routing table overflow" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_an_int8_mapping_runs_again_from_its_file(ckpt, tmp_path, capsys):
    mj = tmp_path / "m8.json"
    assert main(["compile", str(ckpt), "--precision", "int8", "--out", str(mj)]) == 0
    doc = json.loads(mj.read_text())
    assert doc["options"]["precision"] == "int8"
    assert all("sigmoid_lut" in s["regions"] for s in doc["slices"] if s["kind"] == "egru")
    direct, again = tmp_path / "d.json", tmp_path / "a.json"
    assert main(["run", str(ckpt), "--precision", "int8", "--tokens", "8", "--engine", "des",
                 "--out", str(direct)]) == 0
    assert main(["run", str(mj), "--tokens", "8", "--engine", "des", "--out", str(again)]) == 0
    a, b = (json.loads(p.read_text())["run"]["result"] for p in (direct, again))
    assert a["mismatches"]["event_mismatches"] == b["mismatches"]["event_mismatches"] == 0
    assert a["mismatches"]["compared"] and b["mismatches"]["compared"]
    # (the ticks differ: `run MODEL` sizes its tick on the run's own tokens)
    assert a["energy_j"] > 0 and b["energy_j"] > 0
