"""Bad input never passes silently (issue 10): a table of bad inputs across the commands.

Each case runs the CLI in-process (``s2sim.cli.main``; ``models.egru.evaluate.main`` for the
evaluator) and asserts: exit 2, exactly one line on stderr naming the problem, no traceback, and
the output written before (a file or a report folder, pre-created) byte for byte untouched.
Inputs are built once per module from the tiny checkpoint (tests/golden/tiny_lm.npz), so the
table runs in seconds.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from s2sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = str(ROOT / "tests" / "golden" / "tiny_lm.npz")
SPEC = ROOT / "s2sim" / "spec" / "spinnaker2.yaml"
PREVIOUS = b"the previous output\n"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Every input file the table names, in one folder (``{d}`` in a case's argv)."""
    d = tmp_path_factory.mktemp("bad_inputs")
    assert main(["compile", TINY, "--out", str(d / "m.json")]) == 0
    assert main(["compile", "gesture", "--out", str(d / "g.json")]) == 0
    assert main(["bench", "lm", "--model", TINY, "--tokens", "3", "--engine", "analytic",
                 "--gpus", "a100", "--no-plots", "--quiet", "--out", str(d / "lm")]) == 0
    base = json.loads((d / "m.json").read_text())
    for name, edit in MAPPING_EDITS.items():
        m = copy.deepcopy(base)
        edit(m)
        (d / f"{name}.json").write_text(json.dumps(m))
    rep = json.loads((d / "lm" / "report.json").read_text())
    for name, edit in REPORT_EDITS.items():
        r = copy.deepcopy(rep)
        edit(r)
        (d / f"{name}.report.json").write_text(json.dumps(r))
    raw = (d / "lm" / "report.json").read_text()
    (d / "nan.report.json").write_text(
        re.sub(r'"energy_total_j": [^,\n]+', '"energy_total_j": NaN', raw, count=1))
    (d / "truncated.report.json").write_text(raw[: len(raw) // 2])
    for name in ("text.txt", "text.txt.json", "text.txt.npz"):
        (d / name).write_text("not json, not npy, not yaml: [")
    (d / "empty").mkdir()
    (d / "foreign").mkdir()
    (d / "foreign" / "notes.txt").write_text("mine")
    ck = Path(TINY).read_bytes()
    (d / "truncated.npz").write_bytes(ck[: len(ck) // 3])
    np.save(d / "wide.npy", np.zeros((3, 7), np.float32))
    np.save(d / "tokens_out_of_range.npy", np.array([1, 2, 10**6]))
    np.save(d / "nan_vectors.npy", np.full((3, 16), np.nan, np.float32))
    np.save(d / "no_steps.npy", np.zeros(0, np.int64))
    (d / "typo.yaml").write_text(SPEC.read_text().replace("table_entries", "tabel_entries"))
    (d / "list.json").write_text("[1, 2]")
    _int8_checkpoint(d / "tiny_int8.npz")
    return d


def _int8_checkpoint(path: Path) -> None:
    """The tiny LM quantised (PTQ) and saved as an int8 checkpoint (meta.quantisation)."""
    from models.egru.checkpoint import load_checkpoint, save_checkpoint
    from models.egru.quant_lm import ptq, quant_meta

    lm = load_checkpoint(TINY)
    q = ptq(lm, np.arange(lm.vocab_size))
    meta = dict(lm.meta) | {"quantisation": quant_meta(q.x_scale, "PTQ (bad-input table)")}
    save_checkpoint(path, q.model, meta=meta)


def _drop_slice(m):
    sid = next(s["id"] for s in m["slices"] if s["kind"] == "egru" and s["layer"] == 1)
    m["slices"] = [s for s in m["slices"] if s["id"] != sid]
    m["placement"].pop(sid)


def _over_sram(m):
    s = next(s for s in m["slices"] if s["kind"] == "egru")
    s["regions"]["acc"] += 200_000
    s["sram_bytes"] += 200_000


def _two_on_one_pe(m):
    egru = [s["id"] for s in m["slices"] if s["kind"] == "egru"]
    m["placement"][egru[1]] = m["placement"][egru[0]]


def _moved(m):
    sid = next(s["id"] for s in m["slices"] if s["kind"] == "egru")
    m["placement"][sid] = 100  # a PE of the chip, but the routes still go to the old one


MAPPING_EDITS = {
    "dropped_slice": _drop_slice,
    "duplicated_slice": lambda m: m["slices"].append(copy.deepcopy(m["slices"][1])),
    "two_on_one_pe": _two_on_one_pe,
    "dropped_route": lambda m: m["routes"].pop(1),
    "over_sram": _over_sram,
    "shrunk_sram": lambda m: m["spec_overrides"].update({"memory.data_sram_bytes": "4500"}),
    "moved_placement": _moved,
    "no_such_pe": lambda m: m["placement"].update({"L0.S0": 3}),
    "readout_on_input": lambda m: m["placement"].update(readout=m["placement"]["input"]),
    "key_base": lambda m: m["slices"][1].update(key_base=m["slices"][1]["key_base"] + 1),
    "wrong_format": lambda m: m.update(format="something-else"),
    "wrong_version": lambda m: m.update(version=99),
    "bad_pl": lambda m: m.update(pl=7),
    "tiny_table": lambda m: m["spec_overrides"].update({"router.table_entries": "1"}),
    "negative_region": lambda m: m["slices"][1]["regions"].update(acc=-5),
}


def _gesture(r):
    r["workload"].update(kind="gesture", step_name="frame")


REPORT_EDITS = {
    "no_s2": lambda r: r.update(s2=None),
    "no_deployment": lambda r: r.update(deployment=None),
    "negative_energy": lambda r: r["s2"].update(energy_total_j=-1.0),
    "negative_latency": lambda r: r["per_step"][0].update(latency_s=-1e-6),
    "negative_pe_energy": lambda r: r["per_pe"][0].update(energy_j=-3.0),
    "wrong_version": lambda r: r.update(version=99),
    "not_a_report": lambda r: r.update(schema_name="other"),
    "unknown_field": lambda r: r["s2"].update(enrgy_total_j=1.0),
    "gesture": _gesture,
}

RUN = ["run", TINY, "--tokens", "3", "--engine", "analytic"]
RUN_M = ["run", "{d}/m.json", "--tokens", "3", "--engine", "analytic"]
COMPILE = ["compile", TINY]
BENCH = ["bench", "lm", "--model", TINY, "--tokens", "3", "--engine", "analytic", "--gpus",
         "none", "--no-plots", "--quiet"]
GESTURE = ["bench", "gesture", "--engine", "functional", "--gpus", "none", "--no-plots",
           "--quiet"]

# (case id, argv ({d}: the inputs folder; "--out" is added: a pre-created file or folder),
#  words the error line must contain (lower case))
CASES = [
    # -- counts, times, seeds, probabilities (validated by the parser) --------------------------
    ("run-tokens-0", RUN[:2] + ["--tokens", "0"], "--tokens"),
    ("run-tokens-negative", RUN[:2] + ["--tokens", "-3"], "--tokens"),
    ("run-tokens-text", RUN[:2] + ["--tokens", "many"], "--tokens"),
    ("run-tokens-huge", RUN[:2] + ["--tokens", "1000000000000", "--engine", "des"], "memory"),
    ("run-seed-negative", RUN + ["--seed", "-1"], "--seed"),
    ("run-seed-huge", RUN + ["--seed", "99999999999999"], "--seed"),
    ("run-activity-negative", RUN + ["--activity", "-1"], "--activity"),
    ("run-activity-zero", RUN + ["--activity", "0"], "--activity"),
    ("run-activity-nan", RUN + ["--activity", "nan"], "--activity"),
    ("run-activity-above-1", RUN + ["--activity", "2"], "--activity"),
    ("run-pl-negative", RUN + ["--pl", "-1"], "--pl"),
    ("run-pl-missing-level", RUN + ["--pl", "9"], "performance level 9"),
    ("run-max-pes-0", RUN + ["--max-pes", "0"], "--max-pes"),
    ("run-max-pes-too-few", RUN + ["--max-pes", "1"], "--max-pes"),
    ("run-tick-huge", RUN + ["--tick-s", "1e9"], "tick_period_s"),
    ("run-tick-negative", RUN + ["--tick-s", "-1"], "--tick-s"),
    ("run-tick-nan", RUN + ["--tick-s", "nan"], "--tick-s"),
    ("run-tick-inf", RUN + ["--tick-s", "inf"], "--tick-s"),
    ("run-engine-unknown", RUN + ["--engine", "quantum"], "--engine"),
    ("run-pin-bad", RUN + ["--pin", "L0.S0=abc"], "--pin"),
    ("run-placement-missing", RUN + ["--placement", "{d}/nope.json"], "--placement"),
    ("run-placement-list", RUN + ["--placement", "{d}/list.json"], "--placement"),
    # -- output paths -----------------------------------------------------------------------------
    ("run-out-empty", RUN + ["--out", ""], "empty path"),
    ("run-out-folder", RUN + ["--out", "{d}/empty"], "is a folder"),
    ("run-out-proc", RUN + ["--out", "/proc/r.json"], "/proc"),
    ("run-out-below-file", RUN + ["--out", "{d}/text.txt/r.json"], "is a file"),
    ("compile-out-empty", COMPILE + ["--out", ""], "empty path"),
    ("compile-out-folder", COMPILE + ["--out", "{d}/empty"], "is a folder"),
    ("compile-out-proc", COMPILE + ["--out", "/proc/m.json"], "/proc"),
    ("compile-out-below-file", COMPILE + ["--out", "{d}/text.txt/m.json"], "is a file"),
    # -- inputs, checkpoints, models ------------------------------------------------------------
    ("run-input-missing", RUN[:2] + ["--input", "{d}/nope.npy"], "--input"),
    ("run-input-not-npy", RUN[:2] + ["--input", "{d}/text.txt"], "--input"),
    ("run-input-wrong-width", RUN[:2] + ["--input", "{d}/wide.npy"], "inputs"),
    ("run-input-token-range", RUN[:2] + ["--input", "{d}/tokens_out_of_range.npy"], "token id"),
    ("run-input-nan", RUN[:2] + ["--input", "{d}/nan_vectors.npy"], "nan"),
    ("run-input-no-steps", RUN[:2] + ["--input", "{d}/no_steps.npy"], "no steps"),
    ("run-checkpoint-missing", ["run", "{d}/nope.npz", "--tokens", "3"], "nope.npz"),
    ("run-checkpoint-truncated", ["run", "{d}/truncated.npz", "--tokens", "3"], "truncated"),
    ("compile-model-unknown", ["compile", "no-such-model"], "no-such-model"),
    # -- specs --
    ("compile-spec-missing", COMPILE + ["--spec", "{d}/nope.yaml"], "nope.yaml"),
    ("compile-spec-not-yaml", COMPILE + ["--spec", "{d}/text.txt"], "yaml"),
    ("compile-spec-typo", COMPILE + ["--spec", "{d}/typo.yaml"], "unknown field"),
    ("compile-set-no-value", COMPILE + ["--set", "noc.frequency_hz"], "key=value"),
    ("compile-set-unknown-path", COMPILE + ["--set", "noc.frequncy_hz=1"], "frequncy_hz"),
    ("compile-set-zero", COMPILE + ["--set", "noc.frequency_hz=0"], "must be > 0"),
    ("chip-set-inf", ["chip", "--set", "timing.tick_period_s=inf"], "finite"),
    ("chip-set-negative", ["chip", "--set", "organisation.application_pes=-1"], "must be > 0"),
    ("validate-tick-huge", ["validate", "--set", "timing.tick_period_s=1e9"], "tick_period_s"),
    ("validate-ticks-0", ["validate", "--ticks", "0"], "--ticks"),
    ("validate-ticks-huge", ["validate", "--ticks", "1000000000000"], "--ticks"),
    # -- mapping JSON (checked wherever it enters: every engine) -----------------------------------
    ("mapping-dropped-slice", ["run", "{d}/dropped_slice.json", "--tokens", "3", "--engine",
                               "des"], "layer l1"),
    ("mapping-duplicated-slice", ["run", "{d}/duplicated_slice.json", "--tokens", "3"],
     "appears 2 times"),
    ("mapping-two-on-one-pe", ["run", "{d}/two_on_one_pe.json", "--tokens", "3", "--engine",
                               "analytic"], "routed to pes"),
    ("mapping-dropped-route", ["run", "{d}/dropped_route.json", "--tokens", "3", "--engine",
                               "analytic"], "no routing entry"),
    ("mapping-over-sram", ["run", "{d}/over_sram.json", "--tokens", "3", "--engine",
                           "analytic"], "sram"),
    ("mapping-shrunk-sram", ["run", "{d}/shrunk_sram.json", "--tokens", "3", "--engine",
                             "analytic"], "sram"),
    ("mapping-moved-placement", ["run", "{d}/moved_placement.json", "--tokens", "3"],
     "reroute"),
    ("mapping-no-such-pe", ["run", "{d}/no_such_pe.json", "--tokens", "3"], "pe 3"),
    ("mapping-readout-on-input", ["run", "{d}/readout_on_input.json", "--tokens", "3"],
     "routed to pes"),
    ("mapping-key-base", ["run", "{d}/key_base.json", "--tokens", "3"], "key_base"),
    ("mapping-wrong-format", ["run", "{d}/wrong_format.json", "--tokens", "3"], "not an s2sim"),
    ("mapping-wrong-version", ["run", "{d}/wrong_version.json", "--tokens", "3"], "version"),
    ("mapping-bad-pl", ["run", "{d}/bad_pl.json", "--tokens", "3"], "pl"),
    ("mapping-tiny-table", ["run", "{d}/tiny_table.json", "--tokens", "3"], "routing entries"),
    ("mapping-negative-region", ["run", "{d}/negative_region.json", "--tokens", "3"],
     "region"),
    ("mapping-not-json", ["run", "{d}/text.txt.json", "--tokens", "3"], "text.txt.json"),
    ("mapping-with-pl", RUN_M + ["--pl", "0"], "--pl"),
    ("mapping-with-tick", RUN_M + ["--tick-s", "1e-3"], "--tick-s"),
    ("mapping-with-max-pes", RUN_M + ["--max-pes", "10"], "--max-pes"),
    ("mapping-with-placer", RUN_M + ["--placer", "linear"], "--placer"),
    ("mapping-with-pin", RUN_M + ["--pin", "L0.S0=100"], "--pin"),
    ("mapping-set-tick", RUN_M + ["--set", "timing.tick_period_s=1e-3"], "tick"),
    ("mapping-spec-missing", RUN_M + ["--spec", "{d}/nope.yaml"], "nope.yaml"),
    # -- reports --
    ("report-missing", ["report", "{d}/nope.json"], "no such file"),
    ("report-not-json", ["report", "{d}/text.txt"], "not valid json"),
    ("report-truncated", ["report", "{d}/truncated.report.json"], "truncated"),
    ("report-no-s2", ["report", "{d}/no_s2.report.json"], "no s2 section"),
    ("report-no-deployment", ["report", "{d}/no_deployment.report.json"], "deployment"),
    ("report-negative-energy", ["report", "{d}/negative_energy.report.json"],
     "energy_total_j"),
    ("report-negative-latency", ["report", "{d}/negative_latency.report.json"], "latency_s"),
    ("report-negative-pe-energy", ["report", "{d}/negative_pe_energy.report.json"],
     "energy_j"),
    ("report-nan", ["report", "{d}/nan.report.json"], "energy_total_j"),
    ("report-wrong-version", ["report", "{d}/wrong_version.report.json"], "version"),
    ("report-not-a-report", ["report", "{d}/not_a_report.report.json"], "not an s2sim report"),
    ("report-unknown-field", ["report", "{d}/unknown_field.report.json"], "enrgy_total_j"),
    ("diff-other-workload", ["diff", "{d}/lm", "{d}/gesture.report.json"], "different workload"),
    ("diff-rtol-negative", ["diff", "{d}/lm", "{d}/lm", "--rtol", "-1"], "--rtol"),
    ("diff-rtol-nan", ["diff", "{d}/lm", "{d}/lm", "--rtol", "nan"], "--rtol"),
    ("diff-broken-new", ["diff", "{d}/lm", "{d}/no_s2.report.json"], "no s2 section"),
    # -- benches --
    ("bench-lm-seed-negative", BENCH + ["--seed", "-1"], "--seed"),
    ("bench-lm-width-scale-checkpoint", BENCH + ["--width-scale", "2"], "--width-scale"),
    ("bench-lm-width-scale-9", BENCH[:2] + ["--model", "paper"] + BENCH[4:]
     + ["--width-scale", "9"], "width scale 9"),
    ("bench-lm-tokens-1", BENCH + ["--tokens", "1"], "--tokens"),
    ("bench-lm-tokens-huge", BENCH + ["--tokens", "1000000000000"], "memory"),
    ("bench-lm-ppl-tokens-negative", BENCH + ["--ppl-tokens", "-5"], "--ppl-tokens"),
    ("bench-lm-tick-columns-negative", BENCH + ["--tick-columns", "-1"], "--tick-columns"),
    ("bench-lm-tick-columns-machine", BENCH[:2] + ["--model", "paper"] + BENCH[4:]
     + ["--machine", "board48", "--tick-columns", "0"], "--tick-columns"),
    ("run-tick-columns-text", ["run", "small", "--tokens", "3", "--tick-columns", "all",
                               "--out", "{d}/r.json"], "--tick-columns"),
    ("bench-lm-tick-huge", BENCH + ["--tick-s", "1e9"], "tick_period_s"),
    ("bench-lm-pl-negative", BENCH + ["--pl", "-2"], "--pl"),
    ("bench-lm-gpus-unknown", BENCH + ["--gpus", "tpu"], "tpu"),
    # -- deployment, tick and cross-check options --
    ("compile-pes-0", COMPILE + ["--pes", "0"], "--pes"),
    ("compile-pes-huge", COMPILE + ["--pes", "999"], "--pes 999"),
    ("compile-index-bits-12", COMPILE + ["--index-bits", "12"], "--index-bits"),
    ("compile-objective-unknown", COMPILE + ["--objective", "speed"], "--objective"),
    ("compile-int8-checkpoint-fp32", ["compile", "{d}/tiny_int8.npz", "--precision", "fp32"],
     "int8 checkpoint"),
    ("run-int8-checkpoint-fp32", ["run", "{d}/tiny_int8.npz", "--tokens", "3"], "int8 checkpoint"),
    ("bench-int8-checkpoint-fp32", ["bench", "lm", "--model", "{d}/tiny_int8.npz", "--tokens",
                                    "3", "--gpus", "none", "--no-plots", "--quiet"],
     "int8 checkpoint"),
    ("compile-precision-unknown", COMPILE + ["--precision", "int4"], "--precision"),
    ("compile-gesture-int8", ["compile", "gesture", "--precision", "int8"], "--precision int8"),
    ("bench-gesture-int8", GESTURE + ["--precision", "int8"], "--precision int8"),
    ("compile-int8-decoder-chip", COMPILE + ["--precision", "int8", "--decoder", "chip"],
     "--decoder chip"),
    ("bench-int8-decoder-chip", BENCH + ["--precision", "int8", "--decoder", "chip"],
     "--decoder chip"),
    ("compile-mla-on-fp32", COMPILE + ["--mla", "on"], "--mla on"),
    ("bench-mla-on-fp32", BENCH + ["--mla", "on"], "--mla on"),
    ("compile-paper-mla-on", ["compile", "paper", "--precision", "int8", "--mla", "on"],
     "cannot use the mla"),
    ("compile-mla-unknown", COMPILE + ["--precision", "int8", "--mla", "maybe"], "--mla"),
    ("compile-decoder-unknown", COMPILE + ["--decoder", "gpu"], "--decoder"),
    ("compile-gesture-decoder-chip", ["compile", "gesture", "--decoder", "chip"],
     "--decoder chip"),
    ("bench-gesture-decoder-chip", GESTURE + ["--decoder", "chip"], "--decoder chip"),
    ("compile-tick-margin-negative", COMPILE + ["--tick-margin", "-1"], "--tick-margin"),
    ("compile-tick-unknown", COMPILE + ["--tick-s", "fast"], "--tick-s"),
    ("run-check-des-0", RUN + ["--check-des", "0"], "--check-des"),
    ("bench-lm-compile-option-no-value", BENCH + ["--compile-option", "nonsense"],
     "--compile-option"),
    ("bench-lm-compile-option-unknown", BENCH + ["--compile-option", "warp=9"], "warp"),
    ("bench-lm-set-unknown-field", BENCH + ["--set", "router.tabel_entries=3"], "tabel_entries"),
    ("bench-gesture-pes-0", GESTURE + ["--pes", "0"], "--pes"),
    ("bench-lm-checkpoint-truncated", BENCH[:3] + ["{d}/truncated.npz", "--quiet"], "truncated"),
    ("bench-lm-out-file", BENCH + ["--out", "{d}/text.txt"], "not a folder"),
    ("bench-lm-out-foreign", BENCH + ["--out", "{d}/foreign"], "report.json"),
    ("bench-lm-out-empty", BENCH + ["--out", ""], "empty path"),
    ("bench-gesture-accuracy-samples", GESTURE + ["--accuracy-samples", "-1"],
     "--accuracy-samples"),
    ("bench-gesture-samples-0", GESTURE + ["--samples", "0"], "--samples"),
    ("bench-gesture-seed-negative", GESTURE + ["--seed", "-1"], "--seed"),
    ("bench-gesture-pl-text", GESTURE + ["--pl", "fast"], "--pl"),
    # -- --mapping of a bench: another bench's mapping, no file, not JSON, compile options --
    ("bench-gesture-lm-mapping", GESTURE + ["--mapping", "{d}/lm/mapping.json"],
     "not a gesture classifier's"),
    ("bench-lm-gesture-mapping", BENCH[:2] + ["--mapping", "{d}/g.json", "--tokens", "3",
                                              "--quiet"], "not a language model's"),
    ("bench-gesture-mapping-missing", GESTURE + ["--mapping", "{d}/nope.json"], "nope.json"),
    ("bench-gesture-mapping-not-json", GESTURE + ["--mapping", "{d}/text.txt.json"],
     "text.txt.json"),
    ("bench-lm-mapping-not-json", BENCH[:2] + ["--mapping", "{d}/text.txt.json", "--quiet"],
     "text.txt.json"),
    ("bench-gesture-mapping-with-pl", GESTURE + ["--mapping", "{d}/g.json", "--pl", "0"],
     "--pl: does not apply with --mapping"),
]


def _argv(case_argv: list[str], d: Path) -> list[str]:
    return [a.replace("{d}", str(d)) for a in case_argv]


def _snapshot(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
                if p.is_file()}
    return {"": path.read_bytes()}


def _check_one_line(rc: int, err: str, words: str) -> None:
    assert rc == 2, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert words.lower() in lines[0].lower(), lines[0]


@pytest.mark.parametrize("case_argv,words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_leaves_output(inputs, tmp_path, capsys, case_argv, words):
    argv = _argv(case_argv, inputs)
    if "--out" not in argv and argv[0] in ("run", "compile", "bench"):
        if argv[0] == "bench":  # a report folder from an earlier run
            out = tmp_path / "bench"
            shutil.copytree(inputs / "lm", out)
        else:
            out = tmp_path / "out.json"
            out.write_bytes(PREVIOUS)
        argv += ["--out", str(out)]
        before = _snapshot(out)
    else:
        out, before = None, None
    watched = _snapshot(inputs)
    rc = main(argv)
    _, err = capsys.readouterr()
    _check_one_line(rc, err, words)
    if out is not None:
        assert _snapshot(out) == before
    assert _snapshot(inputs) == watched  # nothing an input or an earlier output was changed


def test_table_is_large_enough():
    assert len(CASES) >= 60
    assert len({c[0] for c in CASES}) == len(CASES)


def test_data_errors_name_the_environment_variable(inputs, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("S2SIM_DATA", str(inputs / "empty"))
    rc = main(BENCH + ["--corpus", "ptb", "--out", str(tmp_path / "b")])
    _, err = capsys.readouterr()
    _check_one_line(rc, err, "$S2SIM_DATA")
    assert "from --data" not in err
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("model,words", [("{d}/truncated.npz", "truncated"),
                                         ("{d}/text.txt.npz", "text.txt.npz")])
def test_evaluate_bad_checkpoint_is_one_line(inputs, capsys, model, words):
    from models.egru.evaluate import main as evaluate

    rc = evaluate(["--model", model.replace("{d}", str(inputs))])
    _, err = capsys.readouterr()
    _check_one_line(rc, err, words)


def test_missing_metric_is_a_difference(inputs, capsys, tmp_path):
    rep = json.loads((inputs / "lm" / "report.json").read_text())
    rep["ratios"] = []
    (tmp_path / "r.json").write_text(json.dumps(rep))
    assert main(["diff", str(inputs / "lm"), str(tmp_path / "r.json")]) == 1
    out, _ = capsys.readouterr()
    assert "missing from one report" in out


def test_mapping_spec_set_applies_and_undelivered_packets_are_flagged(inputs, capsys, tmp_path):
    """--set on a mapping target is applied (documented); a NoC far too slow leaves packets
    undelivered, which the run counts and flags instead of reporting a clean run."""
    out = tmp_path / "r.json"
    rc = main(["run", str(inputs / "m.json"), "--tokens", "3", "--engine", "des",
               "--set", "noc.frequency_hz=1", "--out", str(out)])
    text, _ = capsys.readouterr()
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["run"]["result"]["undelivered_packets"] > 0
    assert "not trustworthy" in text and "undelivered" in text
