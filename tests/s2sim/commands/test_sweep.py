"""`s2sim sweep`: one-line errors before anything runs, a tiny sweep, --pareto, the cache."""

from __future__ import annotations

from pathlib import Path

import yaml

from s2sim.cli import main

TINY = Path(__file__).resolve().parents[2] / "golden" / "tiny_lm.npz"


def space_file(tmp_path, axes) -> Path:
    p = tmp_path / "space.yaml"
    p.write_text(yaml.safe_dump({
        "bench": "lm",
        "base": {"model": str(TINY), "tokens": 6, "engine": "analytic", "gpus": "none"},
        "axes": axes, "constraints": ["latency_per_token_s <= 1"]}))
    return p


def test_bad_space_is_one_line_exit_2(tmp_path, capsys):
    for axes, word in [({"pl": []}, "axis pl: empty"),
                       ({"pll": [1]}, "axis pll: unknown bench option"),
                       ({"tokens": ["many"]}, "axis tokens: value 'many'")]:
        rc = main(["sweep", str(space_file(tmp_path, axes)), "--out", str(tmp_path / "o")])
        out, err = capsys.readouterr()
        assert rc == 2 and not out
        assert err.startswith("s2sim: error: ") and word in err and err.count("\n") == 1
        assert "Traceback" not in err
    assert not (tmp_path / "o").exists()  # nothing ran


def test_sweep_then_cached_then_pareto(tmp_path, capsys):
    space = space_file(tmp_path, {"pl": [0, 1], "tick-s": ["auto", 0.00002]})
    out = tmp_path / "o"
    rc = main(["sweep", str(space), "--out", str(out), "--workers", "0", "--quiet"])
    text, err = capsys.readouterr()
    assert rc == 0
    assert "4 points: 4 computed, 0 cached, 2 failed" in text
    assert "Pareto front (energy_per_step_j vs latency_per_step_s" in text
    assert err.count("failed:") == 2
    assert (out / "sweep.csv").is_file() and (out / "front.png").is_file()
    rc = main(["sweep", str(space), "--out", str(out), "--workers", "0", "--quiet",
               "--no-plots"])
    assert rc == 0 and "0 computed, 4 cached" in capsys.readouterr()[0]
    # --pareto on a grown space runs nothing: the new points are reported missing
    bigger = space_file(tmp_path, {"pl": [0, 1], "tick-s": ["auto", 0.00002, 0.001]})
    rc = main(["sweep", str(bigger), "--out", str(out), "--pareto", "--no-plots",
               "--metrics", "energy_per_token,latency_per_token,pes_used"])
    text = capsys.readouterr()[0]
    assert rc == 0 and "2 not computed" in text and "pes_used" in text.splitlines()[1]


def test_bad_metrics_option(tmp_path, capsys):
    rc = main(["sweep", str(space_file(tmp_path, {"pl": [1]})), "--metrics", "speed,cost"])
    err = capsys.readouterr()[1]
    assert rc == 2 and "metric 'speed'" in err and err.count("\n") == 1
