"""Reading and writing report folders: JSON + CSV, atomically; one-line errors on bad files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from pydantic import ValidationError

from s2sim.errors import ReportError
from s2sim.input_files import read_text
from s2sim.report.checks import check_values
from s2sim.report.schema import REPORT_SCHEMA, REPORT_VERSION, Report

REPORT_FILE = "report.json"


# stands for the per-step rows in the JSON of the rest of a report (a string no field holds)
_PER_STEP_MARK = "\u0000per_step rows\u0000"


def report_json(report: Report) -> str:
    """Canonical JSON text of a report: stable field order, so equal runs give equal bytes.

    ``json.dumps(report.model_dump(mode="json"), indent=1)``, but the per-step rows (one per
    step: 245,569 for a whole test split) are dumped one at a time into the text, never all
    at once as dicts: the same bytes with a few hundred MB less at the peak."""
    # a one-chip report leaves the machine section out: its bytes are those of before it existed
    drop = {"machine"} if report.machine is None else set()
    if not report.per_step:
        return json.dumps(report.model_dump(mode="json", exclude=drop or None), indent=1,
                          allow_nan=False) + "\n"
    rest = report.model_dump(mode="json", exclude=drop | {"per_step"})
    doc = {k: ([_PER_STEP_MARK] if k == "per_step" else rest[k])
           for k in Report.model_fields if k in rest or k == "per_step"}
    text = json.dumps(doc, indent=1, allow_nan=False)
    # a list item of a top-level field sits 2 spaces deep (indent=1): each row's own dump,
    # every line indented by 2, is what json.dumps writes for it inside the whole document
    mark = f"  {json.dumps(_PER_STEP_MARK)}"
    rows = ",\n".join("  " + json.dumps(r.model_dump(mode="json"), indent=1,
                                         allow_nan=False).replace("\n", "\n  ")
                       for r in report.per_step)
    return text.replace(mark, rows) + "\n"


def _csv_text(rows, columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    return buf.getvalue()


GPU_COLUMNS = [
    "gpu_key", "gpu_name", "label", "model_name", "latency_per_token_s", "energy_per_token_j",
    "average_power_w", "latency_per_sequence_s", "energy_per_sequence_j",
    "latency_per_token_low_s", "latency_per_token_high_s", "energy_per_token_low_j",
    "energy_per_token_high_j", "average_power_low_w", "average_power_high_w",
    "latency_per_sequence_low_s", "latency_per_sequence_high_s", "energy_per_sequence_low_j",
    "energy_per_sequence_high_j", "kernels_per_token",
    "bytes_per_token", "flops_per_token", "tokens_timed", "window_s",
]


def write_report(report: Report, out_dir: str | Path, plots: bool = True,
                 extra_files: dict[str, str] | None = None, extra_plots=None) -> Path:
    """Write ``report.json``, the CSV tables, (optionally) the PNG plots and ``extra_files``
    (name -> text, e.g. a driver's own tables) as one folder ``out_dir``; with ``plots``, also
    ``extra_plots`` (name -> fn(path), plots of what the report does not hold, e.g. the
    per-tick PE timeline of ``s2sim.report.plots.pe_timeline``).

    The folder is a bundle (``s2sim.output.write_bundle``): written in a temporary folder that
    then replaces ``out_dir``, so that an interrupted write leaves the previous folder whole and
    a folder never mixes two runs. An existing ``out_dir`` must be empty or an earlier report
    folder. Returns the path of ``report.json``.
    """
    from s2sim.output import output_folder, write_bundle

    out = output_folder(out_dir, option="output folder", marker=REPORT_FILE)
    write_bundle(out, lambda tmp: _write_files(report, tmp, plots, extra_files or {},
                                               extra_plots or {}))
    return out / REPORT_FILE


def _write_files(report: Report, out: Path, plots: bool, extra_files: dict[str, str],
                 extra_plots: dict) -> None:
    from s2sim.report.schema import PeRow, StepRow

    rows = {"per_pe.csv": ([r.model_dump() for r in report.per_pe], list(PeRow.model_fields)),
            "per_step.csv": ((r.model_dump() for r in report.per_step),  # one row at a time
                             list(StepRow.model_fields)),
            "gpu.csv": ([g.model_dump() for g in report.gpu], GPU_COLUMNS)}
    for name, (table, columns) in rows.items():
        (out / name).write_text(_csv_text(table, columns), encoding="utf-8")
    for name, text in sorted(extra_files.items()):
        (out / name).write_text(text, encoding="utf-8")
    if plots:
        from s2sim.report.plots import write_plots

        write_plots(report, out)
        for name, fn in sorted(extra_plots.items()):
            fn(out / name)
    (out / REPORT_FILE).write_text(report_json(report), encoding="utf-8")


def _resolve(path: str | Path) -> Path:
    p = Path(path)
    return p / REPORT_FILE if p.is_dir() else p


def load_report(path: str | Path) -> Report:
    """Load a report (file or folder holding ``report.json``); any defect is a one-line error."""
    p = _resolve(path)
    text = read_text(p, f"report {p}", ReportError)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"report {p}: not valid JSON at line {exc.lineno} column {exc.colno} "
            f"({exc.msg}); the file is truncated or corrupted"
        ) from None
    if not isinstance(data, dict) or data.get("schema_name") != REPORT_SCHEMA:
        raise ReportError(f"report {p}: not an s2sim report (schema_name is not {REPORT_SCHEMA!r})")
    version = data.get("version")
    if version != REPORT_VERSION:
        raise ReportError(
            f"report {p}: version {version!r}, this s2sim reads version {REPORT_VERSION}; "
            "re-run the benchmark to regenerate it"
        )
    try:
        report = Report.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ReportError(f"report {p}: field {loc}: {err['msg']}{more}") from None
    check_values(data, str(p))  # finite, non-negative where physical, required sections
    return report


def load_gpu_results(path: str | Path):
    """GPU baselines saved by ``python -m s2sim.baselines.measure`` (a JSON list)."""
    from s2sim.baselines.result import GpuBaselineResult

    p = Path(path)
    text = read_text(p, f"GPU results {p}", ReportError)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"GPU results {p}: unreadable or not JSON ({exc})") from None
    if not isinstance(data, list):
        raise ReportError(f"GPU results {p}: expected a JSON list of GPU baseline results")
    try:
        return [GpuBaselineResult.model_validate(d) for d in data]
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise ReportError(f"GPU results {p}: field {loc}: {err['msg']}") from None
