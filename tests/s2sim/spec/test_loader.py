"""load_spec: bundled file, user YAML, overrides, one-line errors, round trip."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from s2sim.errors import SpecError
from s2sim.spec import bundled_spec_text, dump_spec_yaml, load_spec, parse_set_args, save_spec
from s2sim.spec.loader import parse_value


@pytest.fixture()
def raw() -> dict:
    return yaml.safe_load(bundled_spec_text())


def write(tmp_path, data, name="chip.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def error_of(*args, **kwargs) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg, msg
    return msg


def test_bundled_defaults():
    spec = load_spec()
    assert len(spec.pe_ids()) == 152
    assert len(spec.qpes()) == 38
    assert spec.memory.sram_bytes_per_pe.value == 128 * 1024
    assert spec.noc.cycles_per_hop.value == 5
    assert spec.router.table_entries.value == 16384
    assert [(p.voltage_v.value, p.frequency_hz.value) for p in spec.performance_levels] == [
        (0.5, 150e6), (0.8, 300e6)]


def test_user_yaml_loads(tmp_path, raw):
    raw["memory"]["data_sram_bytes"]["value"] = 65536
    spec = load_spec(write(tmp_path, raw))
    assert spec.memory.data_sram_bytes.value == 65536


def test_overrides_tagged_user():
    spec = load_spec(overrides={
        "performance_levels.1.frequency_hz": "350e6",
        "memory.data_sram_bytes": 65536,
        "noc.cycles_per_hop.value": "4",
    })
    pl = spec.pl(1)
    assert pl.frequency_hz.value == 350e6 and pl.frequency_hz.source == "USER"
    assert "was 300000000.0 [CP]" in pl.frequency_hz.note
    assert spec.memory.data_sram_bytes.value == 65536
    assert spec.memory.data_sram_bytes.source == "USER"
    assert spec.noc.cycles_per_hop.value == 4 and isinstance(spec.noc.cycles_per_hop.value, int)
    assert {p for p, _, _ in spec.overridden()} == {
        "performance_levels.1.frequency_hz", "memory.data_sram_bytes", "noc.cycles_per_hop"}
    # untouched leaves keep their tags
    assert spec.pl(0).frequency_hz.source == "CP"


def test_override_list_value():
    spec = load_spec(overrides={"host.bridge_qpe": "[1, 1]"})
    assert tuple(spec.host.bridge_qpe) == (1, 1)
    assert spec.host.bridge_qpe.source == "USER"


def test_override_non_sourced_leaf():
    spec = load_spec(overrides={"performance_levels.0.name": "slow"})
    assert spec.pl(0).name == "slow"


@pytest.mark.parametrize(
    "overrides, needle",
    [
        ({"organisation.application_pes": 0}, "organisation.application_pes: must be > 0"),
        ({"organisation.pes_per_qpe": 0}, "organisation.pes_per_qpe: must be > 0"),
        ({"performance_levels.0.frequency_hz": "-150e6"},
         "performance_levels.0.frequency_hz: must be > 0"),
        ({"noc.frequency_hz": 0}, "noc.frequency_hz: must be > 0"),
        ({"performance_levels.1.voltage_v": "abc"}, "performance_levels.1.voltage_v"),
        ({"noc.cycles_per_hop": "2.5"}, "noc.cycles_per_hop: must be an integer"),
        ({"memory.code_sram_bytes": 65536}, "memory.code_sram_bytes + memory.data_sram_bytes"),
        ({"memory.stack_heap_bytes": 200000}, "memory.stack_heap_bytes"),
        ({"memory.sram_alignment_bytes": 12}, "memory.sram_alignment_bytes"),
        ({"organisation.pes_per_qpe": 3}, "organisation.application_pes: 152 !="),
        ({"organisation.usable_pes": 153}, "organisation.usable_pes"),
        ({"host.bridge_qpe": "[4, 3]"}, "host.bridge_qpe"),
        ({"organisation.router_position": "[1, 1]"}, "organisation.router_position"),
        ({"noc.max_payload_bits": 256}, "noc.max_payload_bits"),
        ({"calibration.mla_utilisation": 1.5}, "calibration.mla_utilisation"),
        ({"performance_levels.1.name": "PL0"}, "performance_levels.1.name"),
        # bad override syntax/paths
        ({"noc.nope": 1}, "no field 'nope' in noc"),
        ({"performance_levels.7.frequency_hz": 1}, "index 7 out of range"),
        ({"performance_levels.x.frequency_hz": 1}, "expected an index"),
        ({"noc": 1}, "section, not a single field"),
        ({"noc..frequency_hz": 1}, "bad path"),
        ({"noc.frequency_hz.value.x": 1}, "is a value"),
    ],
)
def test_override_errors_name_the_field(overrides, needle):
    msg = error_of(overrides=overrides)
    assert needle in msg, msg
    assert msg.startswith("spec spinnaker2.yaml (bundled): "), msg


def test_missing_field(tmp_path, raw):
    del raw["noc"]["cycles_per_hop"]
    msg = error_of(write(tmp_path, raw))
    assert "chip.yaml" in msg and "noc.cycles_per_hop: missing required field" in msg


def test_missing_section(tmp_path, raw):
    del raw["power"]
    assert "power: missing required field" in error_of(write(tmp_path, raw))


def test_unknown_field(tmp_path, raw):
    raw["router"]["tabel_entries"] = {"value": 1, "source": "DS"}
    assert "router.tabel_entries: unknown field" in error_of(write(tmp_path, raw))


def test_estimate_needs_note(tmp_path, raw):
    del raw["power"]["noc_energy_j_per_hop"]["note"]
    msg = error_of(write(tmp_path, raw))
    assert "power.noc_energy_j_per_hop" in msg and "note" in msg


def test_bad_source_tag(tmp_path, raw):
    raw["noc"]["flit_bits"]["source"] = "WIKI"
    assert "noc.flit_bits.source" in error_of(write(tmp_path, raw))


def test_bool_and_string_numbers_rejected(tmp_path, raw):
    raw["noc"]["flit_bits"]["value"] = True
    assert "noc.flit_bits.value: expected a number" in error_of(write(tmp_path, raw))
    raw["noc"]["flit_bits"]["value"] = "192"
    assert "noc.flit_bits.value: expected a number" in error_of(write(tmp_path, raw))


def test_plain_number_instead_of_sourced(tmp_path, raw):
    raw["noc"]["cycles_per_hop"] = 5
    assert "noc.cycles_per_hop: expected {value: ..., source: ..., note: ...}, got 5" in error_of(
        write(tmp_path, raw))
    raw["noc"] = None
    assert "noc: expected a mapping of fields, got None" in error_of(write(tmp_path, raw))


def test_nan_rejected():
    assert "finite" in error_of(overrides={"noc.frequency_hz": "nan"})


def test_qpe_coords_checks(tmp_path, raw):
    coords = raw["organisation"]["qpe_coords"]["value"]
    coords[1] = list(coords[0])
    assert "listed twice" in error_of(write(tmp_path, raw))
    coords[1] = [8, 1]
    assert "outside the 3-bit id encoding" in error_of(write(tmp_path, raw))


@pytest.mark.parametrize("n", [0, 5])
def test_performance_level_count(tmp_path, raw, n):
    pls = raw["performance_levels"]
    raw["performance_levels"] = [dict(pls[i % 2], name=f"P{i}") for i in range(n)]
    msg = error_of(write(tmp_path, raw))
    assert msg.startswith(f"spec {tmp_path / 'chip.yaml'}: performance_levels:"), msg


def test_four_performance_levels(tmp_path, raw):
    pls = raw["performance_levels"]
    raw["performance_levels"] = [dict(pls[i % 2], name=f"P{i}") for i in range(4)]
    assert len(load_spec(write(tmp_path, raw)).performance_levels) == 4


def test_bad_yaml(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("noc: {frequency_hz: [1,\n")
    msg = error_of(p)
    assert "bad.yaml: bad YAML at line" in msg


def test_not_a_mapping(tmp_path):
    p = tmp_path / "list.yaml"
    p.write_text("- 1\n- 2\n")
    assert "top level must be a mapping" in error_of(p)


def test_missing_file(tmp_path):
    assert "file not found" in error_of(tmp_path / "nope.yaml")


def test_parse_set_args():
    assert parse_set_args(["a.b=1", "c = 2e3"]) == {"a.b": "1", "c": "2e3"}
    for bad in ["a.b", "=3", "a="]:
        with pytest.raises(SpecError, match="KEY=VALUE"):
            parse_set_args([bad])


def test_round_trip(tmp_path):
    spec = load_spec(overrides={"performance_levels.1.frequency_hz": "350e6"})
    p = tmp_path / "dumped.yaml"
    save_spec(spec, p)
    again = load_spec(p)
    assert again == spec
    assert dump_spec_yaml(again) == dump_spec_yaml(spec)
    assert [f.name for f in tmp_path.iterdir()] == ["dumped.yaml"]  # no temp file left behind


_SPEC = load_spec()
_NUMERIC = [p for p, s in _SPEC.leaves() if isinstance(s.value, int | float)]


@settings(max_examples=150, deadline=None)
@given(path=st.sampled_from(_NUMERIC),
       value=st.one_of(st.integers(-10, 10**10), st.floats(allow_nan=True, allow_infinity=True),
                       st.text(max_size=5)))
def test_any_override_loads_or_fails_in_one_line(path, value):
    """Any value on any numeric leaf: a valid spec tagged USER, or a one-line SpecError."""
    try:
        spec = load_spec(overrides={path: value})
    except SpecError as exc:
        msg = str(exc)
        assert "\n" not in msg and msg.startswith("spec spinnaker2.yaml (bundled): ")
        return
    leaf = dict(spec.leaves())[path]
    assert leaf.source == "USER"
    assert leaf.value == parse_value(value) if not isinstance(value, str) else True
