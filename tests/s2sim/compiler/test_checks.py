"""A mutated mapping is refused (one line) or runs exactly like the mapping it came from.

Hypothesis edits a valid mapping's JSON the way a user or a script might (drop or duplicate a
slice, move a slice, drop or alter a route, resize a region, change ``sram_bytes``, a key base,
a first tick, the recorded spec overrides) and runs it on every engine: each engine must either
refuse it with a one-line S2SimError (``Mapping.validate``, run by ``prepare_run``) or give
results identical to the unmutated run's (the mutation changed nothing that matters).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s2sim.compiler.compile import compile_network
from s2sim.compiler.ir import resolve_network
from s2sim.compiler.mapping import Mapping
from s2sim.engine import run_mapping
from s2sim.errors import S2SimError

TINY_LM = Path(__file__).resolve().parents[2] / "golden" / "tiny_lm.npz"
ENGINES = ("functional", "analytic", "des")
TOKENS = np.array([1, 5, 9])


@pytest.fixture(scope="module")
def base():
    """(mapping JSON as a dict, network, {engine: result of the unmutated mapping})."""
    net = resolve_network(str(TINY_LM))
    m = compile_network(net, tick_period_s=69e-6, max_pes=8)
    results = {e: run_mapping(Mapping.from_json(m.to_json()), TOKENS, engine=e, network=net)
               for e in ENGINES}
    return json.loads(m.to_json()), net, results


def _same(a, b) -> bool:
    """The run's observable results are identical (outputs, time, energy, checks)."""
    same = (all(np.array_equal(x, y) for x, y in zip(a.layer_outputs, b.layer_outputs,
                                                     strict=True))
            and a.energy_j == b.energy_j and a.dropped_packets == b.dropped_packets
            and a.tick_overruns == b.tick_overruns
            and a.undelivered_packets == b.undelivered_packets
            and a.mismatches.to_dict() == b.mismatches.to_dict())
    if a.latency_ps is not None:
        same = same and np.array_equal(a.latency_ps, b.latency_ps)
    return same


def _mutate_slice(draw, m: dict, s: dict, kind: str) -> None:
    if kind == "region":
        k = draw(st.sampled_from(sorted(s["regions"])))
        d = draw(st.sampled_from([-1, 1, 4096, 200_000, -s["regions"][k]]))
        s["regions"][k] += d
        if draw(st.booleans()):
            s["sram_bytes"] += d
    elif kind == "sram_bytes":
        s["sram_bytes"] = draw(st.sampled_from([0, s["sram_bytes"] - 1, s["sram_bytes"] + 1,
                                                10**6]))
    elif kind == "key_base":
        s["key_base"] = draw(st.sampled_from([None, 0, 1, (s["key_base"] or 0) + 1,
                                              s["key_base"]]))
    elif kind == "first_tick":
        s["first_tick"] = s["first_tick"] + draw(st.sampled_from([-1, 1]))
    elif kind == "units" and s["units"]:
        s["units"] = s["units"][:-1] if draw(st.booleans()) else s["units"] + [s["units"][0]]
    elif kind == "place":
        m["placement"][s["id"]] = draw(st.sampled_from(sorted({*m["placement"].values(),
                                                               0, 3, 36, 100, 151, 999})))


def _mutate_routes(draw, routes: list, kind: str, pes: list[int]) -> None:
    if kind == "drop_route":
        routes.pop(draw(st.integers(0, len(routes) - 1)))
        return
    r = routes[draw(st.integers(0, len(routes) - 1))]
    if kind == "route_pes":
        r["pes"] = sorted(set(r["pes"]) ^ {draw(st.sampled_from(pes))})
    elif kind == "route_key":
        r["key"] = (r["key"] + draw(st.sampled_from([1, 1 << 24, -(1 << 24)]))) % (1 << 32)
    elif kind == "route_mask":
        r["mask"] = draw(st.sampled_from([0, 0xFFFFFFFF, 0xFFFF0000, r["mask"]]))


SLICE_EDITS = ["region", "sram_bytes", "key_base", "first_tick", "units", "place"]
ROUTE_EDITS = ["drop_route", "route_pes", "route_key", "route_mask"]
MAPPING_EDITS = ["drop_slice", "dup_slice", "swap", "sram_spec"]


@st.composite
def mutations(draw, m: dict):
    """(description, mutated mapping dict)."""
    m = copy.deepcopy(m)
    slices = m["slices"]
    i = draw(st.integers(0, len(slices) - 1))
    s = slices[i]
    kind = draw(st.sampled_from(SLICE_EDITS + ROUTE_EDITS + MAPPING_EDITS))
    if kind in SLICE_EDITS:
        _mutate_slice(draw, m, s, kind)
    elif kind in ROUTE_EDITS:
        _mutate_routes(draw, m["routes"], kind, sorted({*m["placement"].values(), 100}))
    elif kind == "drop_slice":
        slices.pop(i)
        if draw(st.booleans()):
            m["placement"].pop(s["id"], None)
    elif kind == "dup_slice":
        slices.append(copy.deepcopy(s))
    elif kind == "swap":
        b = slices[draw(st.integers(0, len(slices) - 1))]["id"]
        m["placement"][s["id"]], m["placement"][b] = m["placement"][b], m["placement"][s["id"]]
    elif kind == "sram_spec":
        m["spec_overrides"]["memory.data_sram_bytes"] = str(draw(st.sampled_from(
            [4096, 4600, 6000, 98304, 200_000])))
    return f"{kind} on {s['id']}", m


@settings(max_examples=30, deadline=None, print_blob=False,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_mutated_mapping_is_refused_or_identical(base, data):
    m0, net, expected = base
    what, m = data.draw(mutations(m0))
    text = json.dumps(m)
    for engine in ENGINES:
        try:
            mapping = Mapping.from_json(text)
            got = run_mapping(mapping, TOKENS, engine=engine, network=net)
        except S2SimError as exc:
            assert "\n" not in str(exc), (what, str(exc))
            continue
        assert _same(got, expected[engine]), f"{what}: ran on {engine} with other results"
