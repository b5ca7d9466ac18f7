"""Report files: schema round trip, CSV tables, atomic writes, one-line errors on bad files."""

import json
import os

import pytest

from models.egru import atomic  # the one writer (s2sim.atomic re-exports it)
from s2sim import output
from s2sim.errors import ReportError
from s2sim.report.io import load_report, report_json, write_report
from s2sim.report.schema import REPORT_VERSION, Report


def test_round_trip_is_lossless_and_byte_stable(tmp_path, sample_report):
    write_report(sample_report, tmp_path, plots=False)
    back = load_report(tmp_path / "report.json")
    assert back == sample_report
    assert report_json(back) == (tmp_path / "report.json").read_text()
    # loading a folder finds report.json in it
    assert load_report(tmp_path) == sample_report


def _whole_dump(report):
    """The specification of ``report_json``: the whole report as dicts, then one json.dumps."""
    drop = {"machine"} if report.machine is None else None
    return json.dumps(report.model_dump(mode="json", exclude=drop), indent=1,
                      allow_nan=False) + "\n"


def test_report_json_dumps_the_rows_one_at_a_time_with_the_same_bytes(sample_report):
    """The per-step rows spliced in one by one give the bytes of dumping the whole report at
    once: with rows holding None and tiny floats, with no rows, with a machine section."""
    from s2sim.report.schema import Machine, StepRow

    machine = Machine(name="board48", chips_in_machine=48, chips_used=2, chips_needed=2,
                      timed=False, link_packets=5, link_packets_per_step=0.5, link_bits=480,
                      link_hops=5, link_packets_counted=5)

    rows = [StepRow(step=0, latency_s=None, tick_energy_j=1e-05, events=0, packets=3, hops=None,
                    effective_macs=0),
            *sample_report.per_step,
            StepRow(step=9, latency_s=1.25e-300, events=1, packets=0, hops=2, effective_macs=7)]
    for rep in (sample_report, sample_report.model_copy(update={"per_step": rows}),
                sample_report.model_copy(update={"per_step": []}),
                sample_report.model_copy(update={"machine": machine,
                                                 "per_step": rows[:1]})):
        assert report_json(rep) == _whole_dump(rep)


def test_csv_tables_have_units_and_one_row_per_pe_and_step(tmp_path, sample_report):
    write_report(sample_report, tmp_path, plots=False)
    pe = (tmp_path / "per_pe.csv").read_text().splitlines()
    step = (tmp_path / "per_step.csv").read_text().splitlines()
    assert pe[0].startswith("pe_id,pe_index,slices,layer,qx,qy,pe_in_qpe,energy_j,busy_fraction,"
                            "sram_bytes")
    assert len(pe) == 1 + 4 and len(step) == 1 + 5
    assert "latency_s" in step[0] and "tick_energy_j" in step[0]
    assert (tmp_path / "gpu.csv").read_text().count("\n") == 1 + 2


def test_every_numeric_field_name_carries_a_unit():
    import re

    unit = re.compile(r"_(s|j|w|bytes|cycles|hz|ps|v)(_|$)")
    counts = ("pes_used", "qpes_used", "decoder_pes_used", "decoder_token_mismatches",
              "routing_entries", "n_steps", "step", "events", "packets",
              "hops", "effective_macs", "macs", "pe_id", "pe_index", "qx", "qy", "pe_in_qpe",
              "busy_fraction", "dense_macs_per_step", "dropped_packets", "tick_overruns",
              "event_mismatches", "value_mismatches", "performance_level", "seed", "version",
              "steps_per_sequence", "tokens_scored", "activation_sparsity",
              "events_per_step_mean", "packets_per_step_mean", "hops_per_step_mean",
              "effective_macs_per_step_mean", "packets_sent", "packets_received",
              "energy_gpu_over_s2", "latency_gpu_over_s2", "energy_gpu_over_s2_low",
              "energy_gpu_over_s2_high", "latency_gpu_over_s2_low", "latency_gpu_over_s2_high",
              "kernels_per_token",
              "flops_per_token", "tokens_timed", "pes_asked", "index_bits", "tick_margin",
              "undelivered_packets", "missing_host_outputs", "pipeline_fill_ticks")
    from s2sim.report import schema

    for model in (schema.Deployment, schema.S2Totals, schema.PeRow, schema.StepRow,
                  schema.Ratio, schema.Workload):
        for name, f in model.model_fields.items():
            if f.annotation in (int, float, int | None, float | None):
                assert unit.search(name) or name in counts, (model.__name__, name)


def test_interrupted_write_leaves_previous_file(tmp_path, sample_report, monkeypatch):
    out = tmp_path / "bench"
    write_report(sample_report, out, plots=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupted(src, dst):
        raise KeyboardInterrupt  # Ctrl-C while the new folder is being renamed into place

    monkeypatch.setattr(output.os, "rename", interrupted)
    worse = sample_report.model_copy(update={"complete": False})
    with pytest.raises(KeyboardInterrupt):
        write_report(worse, out, plots=False)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the whole folder
    assert sorted(os.listdir(tmp_path)) == ["bench"]  # temporaries cleaned up
    tmp_path = out
    assert load_report(tmp_path).complete


def test_interrupt_during_the_byte_write_leaves_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    atomic.write_text_atomic(target, '{"old": 1}')
    real_fsync = os.fsync

    def boom(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_text_atomic(target, '{"new": 2, "half written')
    monkeypatch.setattr(atomic.os, "fsync", real_fsync)
    assert json.loads(target.read_text()) == {"old": 1}
    assert os.listdir(tmp_path) == ["f.json"]


def test_incomplete_report_is_marked_and_summarised(tmp_path, sample_report):
    from s2sim.report.summary import summarize

    r = sample_report.model_copy(update={"complete": False,
                                         "incomplete_reason": "interrupted during des run"})
    write_report(r, tmp_path, plots=False)
    text = summarize(load_report(tmp_path))
    assert "INCOMPLETE: interrupted during des run" in text


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"schema_name": "s2sim-report", "version": 1, "workl', "not valid JSON at line 1"),
        ("", "not valid JSON"),
        ('{"a": 1}', "not an s2sim report"),
        ('[1, 2]', "not an s2sim report"),
        ('{"schema_name": "s2sim-report", "version": 99}', "version 99, this s2sim reads"),
        (f'{{"schema_name": "s2sim-report", "version": {REPORT_VERSION}}}',
         "field workload: Field required"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path, content, message):
    p = tmp_path / "report.json"
    p.write_text(content)
    with pytest.raises(ReportError) as exc:
        load_report(p)
    assert message in str(exc.value)
    assert str(p) in str(exc.value)
    assert "\n" not in str(exc.value)


def test_wrong_field_type_names_the_field(tmp_path, sample_report):
    data = sample_report.model_dump(mode="json")
    data["s2"]["energy_per_step_j"] = "lots"
    p = tmp_path / "r.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ReportError, match=r"field s2\.energy_per_step_j"):
        load_report(p)


def test_missing_file(tmp_path):
    with pytest.raises(ReportError, match="no such file"):
        load_report(tmp_path / "nope.json")


def test_version_constant_matches_schema_default():
    assert Report.model_fields["version"].default == REPORT_VERSION


def test_summary_warns_on_overruns(sample_report):
    from s2sim.report.summary import summarize

    assert "WARNING" not in summarize(sample_report)
    sample_report.s2.tick_overruns = 4
    assert "!! WARNING: figures not trustworthy: 4 tick overruns" in summarize(sample_report)
    sample_report.s2.dropped_packets = 7
    assert "7 dropped packets (full packet queues" in summarize(sample_report)


def test_output_folder_that_is_a_file(tmp_path, sample_report):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(output.OutputError, match="exists and is not a folder"):
        write_report(sample_report, f, plots=False)
