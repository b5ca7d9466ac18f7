"""Compiling across chips (s2sim.compiler.machine_map): chip assignment, chip placement,
per-chip routing tables, and the one-line error of a model too large for the machine."""

import numpy as np
import pytest

from s2sim.compiler.machine_map import assign_chips, compile_machine, place_chips, split_global_pe
from s2sim.errors import CompileError
from s2sim.spec.machine import load_machine


def test_assign_chips_keeps_a_layer_together_when_the_next_chip_holds_it():
    # chip 0: 2 host slices + layer 0 (5); layer 1 (6) does not fit the 3 left: next chip whole
    out = assign_chips([5, 6, 4], n_chips=3, per_chip=10)
    assert out[0] == [0] * 5
    assert out[1] == [1] * 6
    assert out[2] == [1] * 4


def test_assign_chips_splits_a_layer_larger_than_a_chip_and_refuses_too_many():
    out = assign_chips([15], n_chips=2, per_chip=10)
    assert out[0] == [0] * 8 + [1] * 7
    with pytest.raises(CompileError, match="do not fit 2 chip"):
        assign_chips([19], n_chips=2, per_chip=10)


def test_place_chips_puts_heavy_traffic_next_to_the_ethernet_chip():
    m = load_machine("board48")
    traffic = np.zeros((3, 3))
    traffic[0, 2] = 100.0  # logical 2 talks to logical 0; logical 1 to nobody
    phys = place_chips(traffic, m, m.ethernet[0])
    assert phys[0] == m.ethernet[0]
    assert m.hops(phys[0], phys[2]) == 1


@pytest.fixture(scope="module")
def paper_on_two_chips():
    from s2sim.compiler.ir import Network

    return compile_machine(Network.paper_shape(), "board48", chips=2)


def test_routes_cross_chips_on_their_trees_and_tables_are_checked(paper_on_two_chips):
    mm = paper_on_two_chips
    m = mm.machine
    assert len(mm.parts) == 2 and mm.parts[0].chip == m.ethernet[0]
    assert mm.chip_of_slice["input"] == mm.chip_of_slice["readout"] == m.ethernet[0]
    tables = {p.chip: p.routes for p in mm.parts}
    for r in mm.uncompressed:
        src = mm.key_chip[r.key]
        dest_chips = {split_global_pe(g)[0] for g in r.pes}
        edges = mm.trees[r.key]
        # every destination chip is reached along the tree from the sender
        reached = {src} | {int(m.neighbour[c, d]) for c, d in edges}
        assert dest_chips <= reached
        for c, d in edges:  # each tree edge is in the sending chip's table for this key
            hit = [e for e in tables[c] if (r.key & e[1]) == e[0]]
            assert hit and d in hit[0][3]
        for c in dest_chips:  # ... and the local PEs of each destination chip
            hit = [e for e in tables[c] if (r.key & e[1]) == e[0]]
            local = {split_global_pe(g)[1] for g in r.pes if split_global_pe(g)[0] == c}
            assert local <= set(hit[0][2])
    assert all(p.table_entries <= 16_384 for p in mm.parts)


def test_a_model_too_large_for_the_machine_names_the_chips_it_needs():
    from s2sim.compiler.ir import Network

    net = Network.paper_shape(width_scale=2)
    with pytest.raises(CompileError, match=r"needs 3 chips .* machine board:2 has 2 chip"):
        compile_machine(net, "board:2")


@pytest.mark.slow
def test_the_paper_shape_at_four_times_the_width_compiles_across_chips():
    """553 slices in the first layer (key layout: up to 1,024) and offset tables sized for them."""
    from s2sim.compiler.ir import Network

    mm = compile_machine(Network.paper_shape(width_scale=4), "board48")
    assert len(mm.parts) == 12 and all(p.table_entries <= 16_384 for p in mm.parts)
