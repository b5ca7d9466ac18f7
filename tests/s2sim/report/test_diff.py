"""Metric directions, diff verdicts, and the pytest helper."""

import math

import pytest

from s2sim.errors import S2SimError
from s2sim.report.diff import diff_reports, format_changes, regressions
from s2sim.report.metrics import HIGHER, LOWER, NEUTRAL, direction, report_metrics
from s2sim.testing import assert_report_close


@pytest.mark.parametrize(
    "metric, expected",
    [
        ("s2.energy_per_step_j", LOWER),
        ("s2.latency_per_step_mean_s", LOWER),
        ("s2.energy_by_component_j.noc", LOWER),
        ("s2.activation_sparsity", HIGHER),
        ("s2.activation_sparsity_by_layer.1", HIGHER),
        ("s2.step_period_s", NEUTRAL),
        ("s2.dense_macs_per_step", NEUTRAL),
        ("deployment.pes_used", LOWER),
        ("deployment.sram_bytes_per_pe_capacity", NEUTRAL),
        ("gpu.a100.energy_per_token_j", NEUTRAL),
        ("ratios.a100.energy_gpu_over_s2", HIGHER),
        ("quality.test_perplexity", LOWER),
        ("quality.accuracy", HIGHER),
        ("complete", HIGHER),
        ("something.else", NEUTRAL),
    ],
)
def test_directions(metric, expected):
    assert direction(metric) == expected


def test_metrics_flatten_the_report(sample_report):
    m = report_metrics(sample_report)
    assert m["s2.energy_per_step_j"] == sample_report.s2.energy_per_step_j
    assert m["s2.energy_by_component_j.pe_active"] > 0
    assert m["s2.activation_sparsity_by_layer.0"] == 0.8
    assert m["ratios.a100.energy_gpu_over_s2"] > 0
    assert m["quality.test_perplexity"] == 123.0
    assert m["complete"] == 1.0


def test_identical_reports_have_no_changes(sample_report, report_factory):
    assert diff_reports(sample_report, report_factory()) == []
    assert format_changes([]) == "no metric changed"


def test_more_energy_is_worse_and_names_the_metric(report_factory):
    old, new = report_factory(), report_factory(energy_scale=1.10)
    changes = diff_reports(old, new, rtol=0.02)
    worse = {c.metric for c in regressions(changes)}
    assert "s2.energy_per_step_j" in worse
    assert "ratios.a100.energy_gpu_over_s2" in worse  # the GPU/S2 ratio fell
    assert "s2.latency_per_step_mean_s" not in worse
    table = format_changes(changes)
    assert "s2.energy_per_step_j" in table and "WORSE" in table and "+10.00%" in table


def test_within_tolerance_is_changed_not_worse(report_factory):
    changes = diff_reports(report_factory(), report_factory(energy_scale=1.01), rtol=0.02)
    assert changes and not regressions(changes)
    assert {c.verdict for c in changes} == {"changed"}


def test_improvement_is_better_not_worse(report_factory):
    changes = diff_reports(report_factory(), report_factory(latency_scale=0.5), rtol=0.02)
    assert not regressions(changes)
    assert any(c.metric == "s2.latency_per_step_mean_s" and c.verdict == "better"
               for c in changes)


def test_metric_filter(report_factory):
    changes = diff_reports(report_factory(), report_factory(energy_scale=2, latency_scale=2),
                           metrics=["s2.latency*"])
    assert {c.metric for c in changes} == {"s2.latency_per_step_mean_s",
                                           "s2.latency_per_step_max_s",
                                           "s2.latency_per_sequence_s"}
    with pytest.raises(S2SimError, match="matches no metric"):
        diff_reports(report_factory(), report_factory(), metrics=["nope*"])


def test_zero_to_nonzero_is_infinite_change(report_factory):
    old = report_factory()
    new = report_factory()
    new.s2.dropped_packets = 3
    (c,) = diff_reports(old, new)
    assert c.metric == "s2.dropped_packets" and math.isinf(c.rel_change) and c.verdict == "worse"


def test_incomplete_new_report_is_worse(report_factory):
    new = report_factory().model_copy(update={"complete": False})
    assert [c.metric for c in regressions(diff_reports(report_factory(), new))] == ["complete"]


def test_assert_report_close(report_factory):
    assert_report_close(report_factory(), report_factory())
    assert_report_close(report_factory(energy_scale=1.01), report_factory(), rtol=0.02)
    with pytest.raises(AssertionError, match="s2.energy_per_step_j"):
        assert_report_close(report_factory(energy_scale=1.5), report_factory())
    # a large unexplained improvement also fails against a golden report
    with pytest.raises(AssertionError, match="s2.latency_per_step_mean_s"):
        assert_report_close(report_factory(latency_scale=0.5), report_factory())
    assert_report_close(report_factory(latency_scale=0.5), report_factory(), both_ways=False)


def test_atol_ignores_changes_no_larger_than_it(report_factory):
    old, new = report_factory(), report_factory()
    new.s2.hops_per_step_mean += 1.0  # +3 %
    assert [c.verdict for c in diff_reports(old, new)] == ["worse"]
    assert [c.verdict for c in diff_reports(old, new, atol=1.0)] == ["changed"]
    assert [c.verdict for c in diff_reports(old, new, atol=0.5)] == ["worse"]


def test_share_judges_a_component_against_its_total(report_factory):
    old, new = report_factory(), report_factory()
    # a component +10 % of itself, 4 % of the step's energy
    new.s2.energy_by_component_per_step_j["pe_sleep"] *= 1.10
    (c,) = diff_reports(old, new)
    assert c.verdict == "worse" and c.share_change is None
    (c,) = diff_reports(old, new, share=0.05)
    assert c.verdict == "changed" and c.share_change == pytest.approx(0.04)
    (c,) = diff_reports(old, new, share=0.01)
    assert c.verdict == "worse" and "of total" in format_changes([c])
    with pytest.raises(S2SimError, match="--share -1"):
        diff_reports(old, new, share=-1)


def test_list_metrics_names_directions_and_totals(sample_report):
    from s2sim.report.diff import list_metrics

    own = list_metrics(sample_report).splitlines()
    assert own[0].split() == ["metric", "better", "part", "of", "(--share)"]
    rows = {ln.split()[0]: ln.split()[1:] for ln in own[1:]}
    assert rows["s2.energy_per_step_j"] == ["lower"]
    assert rows["s2.energy_by_component_per_step_j.pe_sleep"] == ["lower",
                                                                  "s2.energy_per_step_j"]
    assert rows["s2.activation_sparsity"] == ["higher"]
    assert "parts of a total" in list_metrics()  # the rules, without a report
