"""s2sim.sweep: space parsing and its one-line errors, cache keys, the Pareto front, resume,
and a tiny sweep through a LocalCluster's tcp:// scheduler against sequential runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s2sim import sweep
from s2sim.sweep import SpaceError, pareto_front, parse_space

TINY = Path(__file__).resolve().parents[1] / "golden" / "tiny_lm.npz"


def tiny_space(axes=None, **extra) -> dict:
    return {"bench": "lm",
            "base": {"model": str(TINY), "tokens": 6, "engine": "analytic", "gpus": "none"},
            "axes": axes or {"pl": [0, 1], "tick-s": ["auto", 0.0005]}, **extra}


# -- parsing ----------------------------------------------------------------------------------


def test_grid_and_value_forms():
    sp = parse_space(tiny_space({"pl": [0, 1], "tick-s": ["auto", 0.001],
                                 "compile.cycle_headroom": {"from": 0.3, "to": 0.5, "step": 0.1},
                                 "seed": {"from": 1, "to": 3, "num": 3}}))
    assert sp.axes["compile.cycle_headroom"] == [0.3, 0.4, 0.5]
    assert sp.axes["seed"] == [1, 2, 3]
    assert len(sp.points) == 2 * 2 * 3 * 3
    assert sp.pareto == ["energy_per_step_j", "latency_per_step_s"]


def test_random_axes_and_sample_are_seeded():
    axes = {"compile.cycle_headroom": {"random": [0.2, 0.8], "n": 4, "seed": 3},
            "tokens": {"random": [4, 9], "n": 3, "int": True, "seed": 1}}
    a = parse_space(tiny_space(axes, sample={"n": 5, "seed": 2}))
    b = parse_space(tiny_space(axes, sample={"n": 5, "seed": 2}))
    assert a.points == b.points and len(a.points) == 5
    assert all(0.2 <= v <= 0.8 for v in a.axes["compile.cycle_headroom"])
    assert all(isinstance(v, int) and 4 <= v <= 9 for v in a.axes["tokens"])


def test_base_as_option_string_and_constraints():
    sp = parse_space({"base": f"bench lm --model {TINY} --tokens 6 --no-plots",
                      "axes": {"pl": [1]}, "constraints": ["latency_per_token <= 1e-3"],
                      "pareto": "energy_per_token,latency_per_token,pes_used"})
    assert sp.bench == "lm" and sp.base["tokens"] == "6"
    assert sp.constraints[0].metric == "latency_per_step_s" and sp.constraints[0].value == 1e-3
    assert sp.pareto[2] == "pes_used"


@pytest.mark.parametrize("axes, words", [
    ({"frobnicate": [1, 2]}, ["axis frobnicate", "unknown bench option"]),
    ({"pl": []}, ["axis pl", "empty"]),
    ({"pl": ["fast"]}, ["axis pl", "'fast'", "not a valid int"]),
    ({"engine": ["warp"]}, ["axis engine", "not one of"]),
    ({"tick-s": 0.001}, ["axis tick-s", "expected a list"]),
    ({"compile.speed": [1]}, ["axis compile.speed", "unknown compiler keyword"]),
    ({"compile.max_pes": [1.5]}, ["axis compile.max_pes", "not a int"]),
    ({"set.timing.nonsense_s": [1]}, ["axis set.timing.nonsense_s"]),
    ({"compile.cycle_headroom": {"from": 0.1, "to": 0.5}}, ["axis compile.cycle_headroom",
                                                           "'step'"]),
    ({"out": ["x"]}, ["axis out", "set by the sweep"]),
    ({"no-plots": [1]}, ["axis no-plots", "set by the sweep"]),
])
def test_bad_axis_is_one_line_naming_it(axes, words):
    with pytest.raises(SpaceError) as exc:
        parse_space(tiny_space(axes))
    msg = str(exc.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg


@pytest.mark.parametrize("space, words", [
    ({"axes": {}}, ["'axes'"]),
    ({"axes": {"pl": [1]}, "constraints": ["speed <= 3"]}, ["constraint", "speed"]),
    ({"axes": {"pl": [1]}, "constraints": ["latency_per_token_s about 3"]}, ["constraint"]),
    ({"axes": {"pl": [1]}, "pareto": ["energy_per_token_j"]}, ["pareto", "2 or 3"]),
    ({"axes": {"pl": [1]}, "colour": "red"}, ["unknown key", "colour"]),
    ({"bench": "chess", "axes": {"pl": [1]}}, ["bench 'chess'"]),
    ({"base": {"tokens": "many"}, "axes": {"pl": [1]}}, ["base option tokens"]),
])
def test_bad_space_is_one_line(space, words):
    with pytest.raises(SpaceError) as exc:
        parse_space(space)
    assert "\n" not in str(exc.value)
    for w in words:
        assert w in str(exc.value)


def test_bad_yaml_file(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("axes: [unclosed\n")
    with pytest.raises(SpaceError, match="not valid YAML at line"):
        parse_space(p)
    with pytest.raises(SpaceError, match="no such file"):
        parse_space(tmp_path / "missing.yaml")


# -- cache keys -------------------------------------------------------------------------------


def keys(space) -> list[str]:
    return [p.key for p in sweep.make_points(parse_space(space))]


def test_cache_keys_stable_and_sensitive(tmp_path):
    base = keys(tiny_space())
    assert base == keys(tiny_space()) and len(set(base)) == 4
    more = tiny_space()
    more["base"]["tokens"] = 7
    assert not set(keys(more)) & set(base)  # an option changes every key
    over = tiny_space({"pl": [0, 1], "tick-s": ["auto", 0.0005],
                       "set.power.chip_off_power_w": [0.05]})
    assert not set(keys(over)) & set(base)  # a spec override too
    # the model file's bytes, not its name
    copy = tmp_path / "tiny.npz"
    shutil.copy(TINY, copy)
    sp = tiny_space()
    sp["base"]["model"] = str(copy)
    k1 = keys(sp)
    copy.write_bytes(copy.read_bytes() + b"\0")
    assert keys(sp) != k1
    # an axis value equal to the base option's is the same point
    same = tiny_space({"pl": [0, 1], "tick-s": ["auto", 0.0005], "tokens": [6]})
    assert keys(same) == base


def test_point_argv_and_overrides():
    sp = parse_space(tiny_space({"pl": [1], "measure-gpu": [False, True],
                                 "set.power.chip_off_power_w": [0.05],
                                 "compile.max_pes": [8]}))
    pts = sweep.make_points(sp)
    assert "--measure-gpu" not in pts[0].argv and "--measure-gpu" in pts[1].argv
    assert pts[0].argv[pts[0].argv.index("--pl") + 1] == "1"
    assert pts[0].spec_overrides == {"power.chip_off_power_w": "0.05"}
    assert pts[0].compile_kw == {"max_pes": 8}
    # both reach the bench as its own options
    a = pts[0].argv
    assert a[a.index("--set") + 1] == "power.chip_off_power_w=0.05"
    assert a[a.index("--compile-option") + 1] == "max_pes=8"


# -- Pareto -----------------------------------------------------------------------------------


def test_pareto_hand_made():
    rows = [{"e": 1, "t": 5}, {"e": 2, "t": 2}, {"e": 5, "t": 1}, {"e": 3, "t": 3},
            {"e": 2, "t": 2}, {"e": None, "t": 0}, {"e": 6, "t": 6}]
    assert pareto_front(rows, ["e", "t"]) == [0, 1, 2, 4]
    assert pareto_front(rows, ["e", "max:t"]) == [0, 6]
    rows3 = [{"a": 1, "b": 1, "c": 9}, {"a": 2, "b": 2, "c": 1}, {"a": 2, "b": 2, "c": 2}]
    assert pareto_front(rows3, ["a", "b", "c"]) == [0, 1]


vals = st.floats(min_value=0, max_value=10, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(vals, vals, vals), min_size=1, max_size=25), st.sampled_from([2, 3]))
def test_pareto_properties(points, k):
    names = ["a", "b", "c"][:k]
    rows = [dict(zip(names, p, strict=False)) for p in points]
    front = pareto_front(rows, names)
    assert front

    def dominates(x, y):
        return all(x[n] <= y[n] for n in names) and any(x[n] < y[n] for n in names)

    for i in front:  # nothing dominates a front point
        assert not any(dominates(r, rows[i]) for r in rows)
    for i in set(range(len(rows))) - set(front):  # something on the front dominates the rest
        assert any(dominates(rows[j], rows[i]) for j in front)


# -- running ----------------------------------------------------------------------------------


def comparable(rows):
    drop = {"wall_s", "cached", "report"}
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def test_resume_computes_only_the_rest(tmp_path, monkeypatch):
    calls = []
    real = sweep.run_point
    monkeypatch.setattr(sweep, "run_point", lambda task: calls.append(task["key"]) or real(task))
    out = tmp_path / "sw"
    first = sweep.run(tiny_space({"pl": [1], "tick-s": ["auto", 0.0005]}), out, workers=0,
                      plots=False)
    assert (first.computed, first.cached, len(calls)) == (2, 0, 2)
    assert all(r["status"] == "ok" for r in first.rows)
    calls.clear()
    full = sweep.run(tiny_space({"pl": [0, 1], "tick-s": ["auto", 0.0005]}), out, workers=0)
    assert (full.computed, full.cached, len(calls)) == (2, 2, 2)
    assert {r["pl"] for r in full.rows if not r["cached"]} == {0}
    assert (out / "sweep.parquet").is_file() and (out / "sweep.csv").is_file()
    assert (out / "front.png").is_file() and (out / "sensitivity-tick-s.png").is_file()
    assert full.front and all(full.rows[i]["pareto"] for i in full.front)
    calls.clear()
    again = sweep.run(tiny_space({"pl": [0, 1], "tick-s": ["auto", 0.0005]}), out, workers=0,
                      plots=False)
    assert (again.computed, again.cached, calls) == (0, 4, [])
    assert comparable(again.rows) == comparable(full.rows)
    forced = sweep.run(tiny_space({"pl": [1], "tick-s": ["auto"]}), out, workers=0,
                       force=True, plots=False)
    assert (forced.computed, len(calls)) == (1, 1)


def test_failed_point_is_recorded_and_sweep_goes_on(tmp_path):
    # 20 us ticks cannot hold the work: that point fails with the compiler's one-line error
    res = sweep.run(tiny_space({"tick-s": [0.00002, "auto"]},
                               constraints=["latency_per_token_s <= 1"]),
                    tmp_path, workers=0, plots=False)
    bad, good = res.rows
    assert bad["status"] == "error" and bad["error"] and "\n" not in bad["error"]
    assert not bad["feasible"] and bad["energy_per_step_j"] is None
    assert good["status"] == "ok" and good["feasible"] and res.front == [1]
    assert res.failed == 1


def test_spec_override_axis_reaches_the_engine(tmp_path):
    res = sweep.run(tiny_space({"set.power.chip_off_power_w": [0.01, 0.2]}), tmp_path, workers=0,
                    plots=False)
    lo, hi = res.rows
    assert lo["status"] == hi["status"] == "ok"
    assert hi["energy_per_step_j"] > lo["energy_per_step_j"]
    assert hi["latency_per_step_s"] == lo["latency_per_step_s"]


def test_local_cluster_tcp_matches_sequential(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    space = tiny_space({"pl": [0, 1], "tick-s": ["auto", 0.0005],
                        "compile.cycle_headroom": [0.3, 0.6]})
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        addr = cluster.scheduler_address
        assert addr.startswith("tcp://")
        par = sweep.run(space, tmp_path / "par", scheduler=addr, plots=False)
    seq = sweep.run(space, tmp_path / "seq", workers=0, plots=False)
    assert par.computed == seq.computed == 8
    assert [r["key"] for r in par.rows] == [r["key"] for r in seq.rows]
    for a, b in zip(comparable(par.rows), comparable(seq.rows), strict=True):
        assert a == b
    assert par.front == seq.front
