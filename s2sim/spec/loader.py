"""Loading, overriding and dumping chip specs.

``load_spec()`` reads the bundled ``spinnaker2.yaml`` (package data) or a user YAML, applies
dotted-path overrides (``"performance_levels.1.frequency_hz=350e6"``) to the raw data, tags each
overridden leaf ``USER`` and validates the result. Every failure is a one-line
:class:`~s2sim.errors.SpecError` naming the file and the field path.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from s2sim.errors import SpecError
from s2sim.input_files import read_text
from s2sim.spec.models import ChipSpec

BUNDLED_NAME = "spinnaker2.yaml"
BUNDLED_LABEL = f"{BUNDLED_NAME} (bundled)"


def bundled_spec_text() -> str:
    return resources.files("s2sim.spec").joinpath(BUNDLED_NAME).read_text(encoding="utf-8")


def _read_yaml(path: str | Path | None) -> tuple[Any, str]:
    if path is None:
        text, label = bundled_spec_text(), BUNDLED_LABEL
    else:
        label = str(path)
        text = read_text(path, f"spec {label}", SpecError, missing="file not found")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise SpecError(f"spec {label}: bad YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise SpecError(f"spec {label}: top level must be a mapping of sections, "
                        f"got {type(data).__name__}")
    return data, label


def _format_loc(loc: tuple) -> str:
    return ".".join(str(p) for p in loc)


def _did_you_mean(errors: list, loc: tuple) -> str:
    """' (did you mean table_entries?)' when a field of the same section is missing and close."""
    import difflib

    missing = [str(err["loc"][-1]) for err in errors
               if err["type"] == "missing" and tuple(err["loc"][:-1]) == tuple(loc[:-1])]
    close = difflib.get_close_matches(str(loc[-1]), missing, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _one_line(exc: ValidationError, label: str) -> str:
    errors = exc.errors(include_url=False)
    # a misspelt field is both unknown and (under its right name) missing: name the typo first
    errors.sort(key=lambda err: err["type"] != "extra_forbidden")
    e = errors[0]
    loc = _format_loc(e["loc"])
    kind = e["type"]
    if kind == "missing":
        msg = "missing required field"
    elif kind == "extra_forbidden":
        msg = "unknown field" + _did_you_mean(errors, e["loc"])
    elif kind == "model_type" and str(e.get("ctx", {}).get("class_name", "")).startswith(
            "Sourced"):
        msg = f"expected {{value: ..., source: ..., note: ...}}, got {e.get('input')!r}"
    elif kind == "model_type":
        msg = f"expected a mapping of fields, got {e.get('input')!r}"
    else:
        msg = str(e["msg"])
        for prefix in ("Value error, ", "Assertion failed, "):
            if msg.startswith(prefix):
                msg = msg[len(prefix):]
        if kind.startswith(("list_", "tuple_", "too_")) or kind in ("model_type", "dict_type"):
            msg = f"{msg} (got {e.get('input')!r})" if len(repr(e.get("input"))) < 60 else msg
    msg = " ".join(msg.split())  # keep it on one line
    more = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})" \
        if len(errors) > 1 else ""
    # Cross-field checks put the field paths in the message themselves (loc is the section).
    head = f"{loc}: " if loc and not msg.startswith(loc) else ""
    return f"spec {label}: {head}{msg}{more}"


def validate_spec(data: Any, label: str = "<data>") -> ChipSpec:
    """Validate raw spec data (a dict as read from YAML) into a ChipSpec, or raise SpecError."""
    try:
        return ChipSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_one_line(exc, label)) from None


def parse_value(text: str | float | int) -> Any:
    """Turn an override value into a number/list: YAML syntax, then floats like ``350e6``."""
    if not isinstance(text, str):
        return text
    try:
        v = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            return v
        return int(f) if f.is_integer() and "e" not in v.lower() and "." not in v else f
    return v


def parse_set_args(items: list[str] | None) -> dict[str, str]:
    """``["a.b=1", ...]`` (CLI ``--set``) -> ``{"a.b": "1"}``; SpecError on bad syntax."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not value.strip():
            raise SpecError(f"--set {item!r}: expected KEY=VALUE, e.g. "
                            "performance_levels.1.frequency_hz=350e6")
        out[key] = value.strip()
    return out


def apply_overrides(data: dict, overrides: dict[str, Any], label: str) -> dict:
    """Return a copy of raw spec data with each dotted-path override applied and tagged USER."""
    data = copy.deepcopy(data)
    for key, raw in (overrides or {}).items():
        if not isinstance(key, str) or not key or any(p == "" for p in key.split(".")):
            raise SpecError(f"spec {label}: override {key!r}: bad path (use dotted field names "
                            "and list indices, e.g. performance_levels.1.frequency_hz)")
        parts = key.split(".")
        if parts[-1] in ("value", "source", "note") and len(parts) > 1:
            parts = parts[:-1]  # "x.value=3" means the same as "x=3"; source/note are ours
        node: Any = data
        walked: list[str] = []
        for part in parts[:-1]:
            node = _child(node, part, walked, key, label)
            walked.append(part)
        last = parts[-1]
        target = _child(node, last, walked, key, label)
        value = parse_value(raw)
        if isinstance(target, dict) and "value" in target:
            old = f"{target['value']!r} [{target.get('source', '?')}]"
            if isinstance(target["value"], list) and isinstance(value, list):
                old = f"{target['value']} [{target.get('source', '?')}]"
            target["value"] = value
            target["source"] = "USER"
            target["note"] = f"override (was {old})"
        elif isinstance(target, dict | list):
            raise SpecError(f"spec {label}: override {key}: {'.'.join(walked + [last])} is a "
                            "section, not a single field")
        else:
            _set(node, last, value)
    return data


def _child(node: Any, part: str, walked: list[str], key: str, label: str) -> Any:
    here = ".".join(walked) or "<top>"
    if isinstance(node, dict):
        if part not in node:
            fields = ", ".join(sorted(str(k) for k in node))
            raise SpecError(f"spec {label}: override {key}: no field {part!r} in {here} "
                            f"(fields: {fields})")
        return node[part]
    if isinstance(node, list):
        try:
            i = int(part)
        except ValueError:
            raise SpecError(f"spec {label}: override {key}: {here} is a list, "
                            f"expected an index, got {part!r}") from None
        if not 0 <= i < len(node):
            raise SpecError(f"spec {label}: override {key}: index {i} out of range for {here} "
                            f"(0..{len(node) - 1})")
        return node[i]
    raise SpecError(f"spec {label}: override {key}: {here} is a value, it has no field {part!r}")


def _set(node: Any, part: str, value: Any) -> None:
    if isinstance(node, list):
        node[int(part)] = value
    else:
        node[part] = value


def load_spec(
    path: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> ChipSpec:
    """Load a chip spec: the bundled SpiNNaker2 (``path=None``) or a user YAML, plus overrides.

    ``overrides`` maps dotted paths to values (strings are parsed: ``"350e6"``, ``"[7, 2]"``);
    each overridden leaf gets source ``USER``. Raises :class:`SpecError` (one line).
    """
    data, label = _read_yaml(path)
    if overrides:
        data = apply_overrides(data, overrides, label)
    return validate_spec(data, label)


def spec_to_data(spec: ChipSpec) -> dict:
    """The spec as plain data (the YAML/JSON form), notes omitted where empty."""
    return spec.model_dump(mode="json", exclude_none=True)


def dump_spec_yaml(spec: ChipSpec) -> str:
    return yaml.safe_dump(spec_to_data(spec), sort_keys=False, width=100, allow_unicode=True)


def save_spec(spec: ChipSpec, path: str | Path) -> None:
    """Write the spec as YAML atomically (s2sim.atomic)."""
    from s2sim.atomic import write_text_atomic

    write_text_atomic(path, dump_spec_yaml(spec))


def with_overrides(spec: ChipSpec, overrides: dict[str, Any]) -> ChipSpec:
    """A new spec: ``spec`` with dotted-path overrides applied (tagged USER)."""
    label = "<in-memory spec>"
    return validate_spec(apply_overrides(spec_to_data(spec), overrides, label), label)
