"""Partition, place, route and the compile-time errors of s2sim.compiler."""

import numpy as np
import pytest

from s2sim.compiler.compile import compile_network
from s2sim.compiler.mapping import Mapping
from s2sim.compiler.partition import register_partitioner
from s2sim.compiler.random_net import random_network
from s2sim.errors import CompileError, ResourceError, RoutingError

SMALL_SRAM = {"memory.data_sram_bytes": 12000}


NET = dict(sizes=(40, 30), n_in=20, density=0.3, seed=3)  # `net` (conftest)


def _cover(m, layer, H):
    units = np.concatenate([s.units for s in m.layer_slices(layer)])
    return np.array_equal(np.sort(units), np.arange(H))


@pytest.mark.parametrize("partitioner", ["by_units", "interleaved"])
def test_partitions_cover_layers_and_fit(net, partitioner):
    m = compile_network(net, partitioner=partitioner, spec_overrides=SMALL_SRAM)
    assert _cover(m, 0, 40) and _cover(m, 1, 30)
    assert len(m.layer_slices(0)) > 1
    assert max(m.pe_bytes().values()) <= m.data_bytes_available
    if partitioner == "interleaved":
        s0 = m.layer_slices(0)[0].units
        assert s0[1] - s0[0] == len(m.layer_slices(0))  # strided units


def test_user_partitioner_plugs_in(net):
    def halves(view):
        H = view.hidden
        return [np.arange(0, H // 2), np.arange(H // 2, H)]

    register_partitioner("halves", halves)
    m = compile_network(net, partitioner="halves")
    assert [len(s.units) for s in m.layer_slices(0)] == [20, 20]
    m2 = compile_network(net, partitioner=halves)
    assert m2.partitioner == "halves"


def test_bad_user_partition_is_refused(net):
    with pytest.raises(CompileError, match="cover units"):
        compile_network(net, partitioner=lambda v: [np.arange(v.hidden - 1)])


def test_too_large_network_fails_with_layer_slice_bytes_and_pe_count():
    big = random_network(sizes=(400, 400), n_in=300, density=0.5, seed=0)
    with pytest.raises(CompileError) as exc:
        compile_network(big, max_pes=4)
    msg = str(exc.value)
    assert "layer L" in msg and "slice" in msg and "bytes" in msg
    assert "smallest PE count that fits" in msg
    need = int(msg.rsplit("fits: ", 1)[1])
    m = compile_network(big, max_pes=need)  # the count the error names does fit
    assert len(m.pes_used()) == need


def test_unit_too_large_for_any_pe():
    with pytest.raises(CompileError, match="single unit"):
        compile_network(random_network(sizes=(8,), n_in=4000, density=1.0, seed=0))


def test_user_slice_too_big_names_slice_and_smallest_count(net):
    with pytest.raises(CompileError, match=r"layer L0 slice 0 .* smallest PE count"):
        compile_network(net, partitioner=lambda v: [np.arange(v.hidden)],
                        spec_overrides=SMALL_SRAM)


def test_routing_overflow_fails_at_compile_time(net):
    with pytest.raises(RoutingError, match="routing table overflow.*router holds 2"):
        compile_network(net, spec_overrides={"router.table_entries": 2})


def test_routing_compression_counts_and_covers(net):
    m = compile_network(net, spec_overrides=SMALL_SRAM)
    senders = [s for s in m.slices if s.key_base is not None]
    assert m.routes_before == len(senders) + 1  # + the host -> input entry
    assert len(m.routes) < m.routes_before
    for s in senders:  # every sending slice's key hits exactly one entry
        hits = [r for r in m.routes if (s.key_base & r.mask) == (r.key & r.mask)]
        assert len(hits) == 1 and s.id in hits[0].sources


def test_placement_table_two_slices_on_one_pe_refused_naming_the_pe(net):
    m = compile_network(net, spec_overrides=SMALL_SRAM)
    table = dict(m.placement)
    a, b = m.layer_slices(0)[0].id, m.layer_slices(0)[1].id
    table[b] = table[a]
    with pytest.raises(ResourceError, match=f"PE {table[a]} .*{a}, {b}.*need"):
        compile_network(net, placer=table, spec_overrides=SMALL_SRAM)


def test_placement_table_sharing_a_pe_that_fits_is_accepted(net):
    m = compile_network(net)
    table = dict(m.placement)
    a, b = "readout", "input"
    table[b] = table[a]
    m2 = compile_network(net, placer=table)
    assert m2.pe_slices()[table[a]] == ["input", "readout"]


def test_pins_and_placers(net):
    pe = 200  # qx 6, qy 2, p 0
    for placer in ("locality", "linear", "random"):
        m = compile_network(net, placer=placer, pins={"L1.S0": pe})
        assert m.placement["L1.S0"] == pe
        assert len(set(m.placement.values())) == len(m.slices)
    m = compile_network(net, placer=lambda p: dict(zip(p.slice_ids, reversed(p.free_pes),
                                                       strict=False)))
    assert m.placer == "<lambda>"
    with pytest.raises(CompileError, match="no slice"):
        compile_network(net, pins={"L9.S9": pe})


def test_locality_places_host_facing_programs_at_the_bridge(net):
    m = compile_network(net)
    for sid in ("input", "readout"):
        pe = m.placement[sid]
        assert ((pe >> 5) & 7, (pe >> 2) & 7) == (7, 2)


def test_mapping_json_round_trip_and_report(net, tmp_path):
    m = compile_network(net, spec_overrides=SMALL_SRAM, partitioner="interleaved")
    p = m.save(tmp_path / "m.json")
    m2 = Mapping.load(p)
    assert m2.model_dump(exclude={"compile_s"}) == m.model_dump(exclude={"compile_s"})
    assert m2.to_json() == m.to_json()
    m2.attach(net)
    rep = m.report()
    for part in ("## partition", "## placement", "## SRAM per PE", "## routing", "w_vals"):
        assert part in rep
    # deterministic
    assert compile_network(net, spec_overrides=SMALL_SRAM,
                           partitioner="interleaved").to_json() == m.to_json()


def test_mapping_load_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CompileError, match="bad.json: not a mapping JSON"):
        Mapping.load(bad)
    bad.write_text('{"format": "s2sim-mapping", "version": 1, "pl": "x"}')
    with pytest.raises(CompileError, match="bad.json: field"):
        Mapping.load(bad)


def test_attach_refuses_another_network(net):
    m = compile_network(net)
    other = random_network(sizes=(40, 30), n_in=20, density=0.3, seed=4)
    with pytest.raises(CompileError, match="does not match"):
        m.attach(other)


def test_sram_regions_account_for_weights(net):
    m = compile_network(net)
    layer = net.layers[0]
    s = m.layer_slices(0)[0]
    H = layer.hidden
    U = np.asarray(s.units)
    cols = np.concatenate([U, H + U, 2 * H + U])
    assert s.nnz_w == np.count_nonzero(layer.W[:, cols])
    assert s.regions["w_vals"] >= 4 * s.nnz_w and s.regions["w_cols"] >= 2 * s.nnz_w


def test_auto_tick_is_shortest_that_holds_work_and_schedule(net):
    m = compile_network(net, tick_period_s="auto")
    assert m.tick_period_ps < 1_000_000_000  # shorter than the spec's 1 ms
    assert m.required_cycles_per_tick <= m.cycles_per_tick
    assert m.spec_overrides["timing.tick_period_s"] == str(m.tick_period_ps / 1e12)
    with pytest.raises(CompileError, match="seconds or 'auto'"):
        compile_network(net, tick_period_s="fast")


def test_tick_too_short_for_the_send_schedule_fails_at_compile_time(net):
    with pytest.raises(CompileError, match="send schedule overruns the tick.*tick_period_s='auto'"):
        compile_network(net, tick_period_s=40e-6, cycle_headroom=0.0)
