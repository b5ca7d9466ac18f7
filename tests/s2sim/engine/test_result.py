"""RunResult, Mismatches and HostWork (s2sim.engine.result): derived figures and summaries."""

import json

import numpy as np

from s2sim.engine.result import ENGINES, HostWork, Mismatches, RunResult


def _result(**kw) -> RunResult:
    base = dict(engine="analytic", n_steps=2, n_layers=1, outputs=np.zeros((2, 3), np.float32),
                layer_outputs=[np.zeros((2, 3), np.float32)],
                events_per_step=np.array([[1], [3]]), input_events=np.array([2, 2]),
                activation_sparsity=[0.5], effective_macs_per_step=np.array([10, 32]),
                dense_macs_per_step=60)
    return RunResult(**{**base, **kw})


def test_mismatches_total_and_dict():
    mm = Mismatches(compared=True, event_mismatches=2, value_mismatches=3,
                    first_mismatch=(1, 0, 4), per_layer_event_mismatches=[2])
    assert mm.total == 5
    d = mm.to_dict()
    assert d["first_mismatch"] == [1, 0, 4] and d["per_layer_event_mismatches"] == [2]
    assert Mismatches().to_dict()["first_mismatch"] is None and not Mismatches().compared
    json.dumps(d)


def test_derived_figures():
    r = _result()
    assert r.effective_macs == 42
    assert r.mean_latency_ps is None and r.energy_per_step_j is None
    r = _result(latency_ps=np.array([100, 300]), energy_j=4e-6)
    assert r.mean_latency_ps == 200.0 and r.energy_per_step_j == 2e-6
    assert _result(latency_ps=np.array([], np.int64)).mean_latency_ps is None


def test_summary_is_json_ready_and_leaves_out_the_wall_clock():
    r = _result(latency_ps=np.array([100, 300]), energy_j=4e-6, wall_s=12.5,
                pe_counts={"b": np.array([1]), "a": np.array([2])}, meta={"n_ticks": 5})
    s = r.summary()
    json.dumps(s)
    assert "wall_s" not in s and 12.5 not in s.values()
    assert s["events_per_step_mean"] == [2.0] and s["effective_macs"] == 42
    assert s["latency_ps"] == [100, 300] and s["mean_latency_ps"] == 200.0
    assert list(s["pe_counts"]) == ["a", "b"]  # sorted: deterministic
    assert s["host"] == HostWork().to_dict() and s["meta"] == {"n_ticks": 5}
    assert _result(wall_s=1.0).summary() == _result(wall_s=2.0).summary()


def test_summary_of_an_empty_run_and_engines():
    r = _result(n_steps=0, events_per_step=np.zeros((0, 1)), effective_macs_per_step=np.zeros(0))
    assert r.summary()["events_per_step_mean"] == [0.0]
    assert ENGINES == ("functional", "analytic", "des")
