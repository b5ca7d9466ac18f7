"""Mapping (s2sim.compiler.mapping): JSON round trip and its errors, bind vs attach, reports."""

import json
import math

import pytest

from s2sim.compiler.compile import compile_network
from s2sim.compiler.mapping import Mapping
from s2sim.compiler.random_net import random_network
from s2sim.errors import CompileError, S2SimError
from s2sim.spec import load_spec

SMALL_SRAM = {"memory.data_sram_bytes": 12000}


NET = dict(sizes=(40, 30), n_in=20, density=0.3, seed=61, readout_out=2)  # `net` (conftest)


@pytest.fixture(scope="module")
def mapping(net):
    return compile_network(net, spec_overrides=SMALL_SRAM)


def test_json_round_trip_is_equal(mapping, tmp_path):
    m2 = Mapping.from_json(mapping.to_json())
    assert m2.model_dump(exclude={"compile_s"}) == mapping.model_dump(exclude={"compile_s"})
    assert m2.to_json() == mapping.to_json()
    assert "compile_s" not in json.loads(mapping.to_json())
    m3 = Mapping.load(mapping.save(tmp_path / "m.json"))
    assert m3.to_json() == mapping.to_json()
    assert m3.schedule == mapping.schedule


def _edited(mapping, edit) -> str:
    data = json.loads(mapping.to_json())
    edit(data)
    return json.dumps(data)


def test_from_json_errors_name_the_field(mapping):
    with pytest.raises(CompileError, match=r"^m.json: not a mapping JSON file \(.*line 1\)"):
        Mapping.from_json("{oops", where="m.json")
    with pytest.raises(CompileError, match="format field missing or wrong"):
        Mapping.from_json(_edited(mapping, lambda d: d.pop("format")))
    with pytest.raises(CompileError, match="mapping version 99, this s2sim reads version 1"):
        Mapping.from_json(_edited(mapping, lambda d: d.update(version=99)))
    with pytest.raises(CompileError, match="^<string>: field pl: "):
        Mapping.from_json(_edited(mapping, lambda d: d.update(pl="fast")))
    with pytest.raises(CompileError, match="field slices.1.sram_bytes: "):
        Mapping.from_json(_edited(mapping, lambda d: d["slices"][1].update(sram_bytes="x")))
    with pytest.raises(CompileError, match="field schedule.surprise: "):
        Mapping.from_json(_edited(mapping, lambda d: d["schedule"].update(surprise=1)))
    # a mapping written without a schedule
    assert Mapping.from_json(_edited(mapping, lambda d: d.update(schedule={}))).schedule is None


def test_load_of_a_missing_file(tmp_path):
    with pytest.raises(S2SimError, match="nope.json: cannot read mapping"):
        Mapping.load(tmp_path / "nope.json")


def test_bind_uses_objects_as_they_are_attach_checks_the_fingerprint(net, mapping):
    other = random_network(sizes=(40, 30), n_in=20, density=0.3, seed=62, readout_out=2)
    m = Mapping.from_json(mapping.to_json())
    with pytest.raises(CompileError, match="no network_ref"):
        _ = m.network  # built in Python: nothing to rebuild it from
    with pytest.raises(CompileError, match="network 'random' does not match the mapping"):
        m.attach(other)
    assert m.attach(net).network is net
    spec = load_spec(overrides=SMALL_SRAM)
    assert m.bind(other, spec).network is other  # no check: the caller vouches for it
    assert m.bound_spec is spec and m.load_spec() is spec
    m.bind(net)
    assert m.bound_spec is None
    assert m.load_spec().memory.data_sram_bytes.value == 12000  # from the recorded overrides


def test_report_has_one_section_per_stage(mapping):
    rep = mapping.report()
    heads = [line.split(" ")[1].rstrip(":") for line in rep.splitlines() if line.startswith("## ")]
    assert heads == ["partition", "placement", "SRAM", "send", "routing"]
    body = {sec.split(" ", 1)[0].rstrip(":"): sec.strip().splitlines()[1:]
            for sec in rep.split("\n## ")[1:]}
    assert len(body["partition"]) == 1 + len(mapping.slices)  # header + a row per slice
    assert len(body["SRAM"]) == len(mapping.pes_used())
    assert len(body["routing"]) == len(mapping.routes)
    assert rep.startswith(f"# mapping of random: layers {mapping.layer_sizes}")


def test_accessors_and_summary_agree(mapping):
    m = mapping
    assert m.n_layers == 2 and [s.id for s in m.layer_slices(1)] == [
        s.id for s in m.slices if s.id.startswith("L1.")]
    assert m.slice("readout").kind == "readout"
    with pytest.raises(CompileError, match="no slice 'L5.S0'"):
        m.slice("L5.S0")
    ps = m.pe_slices()
    assert sorted(sid for ss in ps.values() for sid in ss) == sorted(s.id for s in m.slices)
    assert list(ps) == m.pes_used()
    pb = m.pe_bytes()
    assert sum(pb.values()) == sum(s.sram_bytes for s in m.slices)
    sm = m.summary()
    assert sm["pes_used"] == len(m.pes_used()) and sm["slices"] == len(m.slices)
    assert sm["largest_pe_bytes"] == max(pb.values()) == pb[sm["largest_pe"]]
    assert sm["routes_after"] == len(m.routes)
    assert sm["max_est_cycles_per_step"] == max(s.est_cycles_per_step for s in m.slices)


def test_required_cycles_per_tick(mapping):
    m = mapping
    head = m.options["cycle_headroom"]
    work = max(sum(s.est_cycles_per_step for s in m.slices if m.placement[s.id] == pe)
               for pe in m.pes_used())
    want = max(math.ceil(work / (1 - head)), m.schedule.est_end_cycles)
    assert m.required_cycles_per_tick == want
    no_sch = m.model_copy(update={"schedule": None})
    assert no_sch.required_cycles_per_tick == math.ceil(work / (1 - head))
