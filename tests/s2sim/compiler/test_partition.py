"""The partition stage (s2sim.compiler.partition), called directly: coverage, budgets, errors."""

import dataclasses

import numpy as np
import pytest

from s2sim.compiler.compile import HOST_FACING_SLICES, _target
from s2sim.compiler.partition import (
    LayerView,
    check_partition,
    check_pe_count,
    get_partitioner,
    partition_by_units,
    partition_interleaved,
    partition_network,
)
from s2sim.errors import CompileError

SMALL_SRAM = {"memory.data_sram_bytes": 12000}


NET = dict(sizes=(48, 36), n_in=24, density=0.35, seed=11)  # `net` (conftest)


@pytest.fixture(scope="module")
def target(net):
    return _target(net, None, None, SMALL_SRAM, None, None, None, {})


def _partition(net, tg, partitioner="by_units"):
    return partition_network(net, tg.budget, tg.cost, partitioner, pl=tg.pl,
                             cycles_per_tick=tg.cycles_per_tick)


@pytest.mark.parametrize("partitioner", ["by_units", "interleaved"])
def test_every_unit_in_exactly_one_slice_and_every_slice_within_budget(net, target, partitioner):
    part = _partition(net, target, partitioner)
    assert part.partitioner == partitioner
    assert len(part.parts) == len(net.layers) == len(part.views)
    for layer, slices in zip(net.layers, part.parts, strict=True):
        assert len(slices) > 1  # the small SRAM forces a split
        units = np.concatenate(slices)
        assert np.array_equal(np.sort(units), np.arange(layer.hidden))
    for view, slices in zip(part.views, part.parts, strict=True):
        for s in slices:
            b, regions, c = view.footprint(s)
            assert b == sum(regions.values())
            assert b <= target.budget.bytes_available
            assert c <= target.budget.cycles_available
    assert part.n_slices == sum(len(p) for p in part.parts)


def test_by_units_is_contiguous_and_interleaved_is_strided(net, target):
    contiguous = _partition(net, target, "by_units")
    for s in contiguous.parts[0]:
        assert np.array_equal(s, np.arange(s[0], s[-1] + 1))
    strided = _partition(net, target, "interleaved")
    n = len(strided.parts[0])
    for k, s in enumerate(strided.parts[0]):
        assert np.array_equal(s, np.arange(k, net.layers[0].hidden, n))


def test_by_units_uses_few_slices_close_to_the_greedy_count(net, target):
    view = _partition(net, target).views[0]
    greedy = view.greedy_cuts()
    assert all(view.fits(s) for s in greedy)
    n = len(partition_by_units(view))
    assert len(greedy) <= n <= len(greedy) + 3
    assert len(partition_interleaved(view)) >= len(greedy)


def test_footprint_grows_with_units(net, target):
    view = _partition(net, target).views[1]
    b1, _, c1 = view.footprint(np.arange(4))
    b2, _, c2 = view.footprint(np.arange(8))
    assert b2 > b1 and c2 > c1
    # the weights of the units held are in the regions
    st = net.stats(1)
    _, regions, _ = view.footprint(np.arange(8))
    assert regions["w_vals"] >= 4 * int(st.nnz_w_per_unit[:8].sum())


def test_get_partitioner_by_name_by_function_and_unknown():
    assert get_partitioner("by_units") == ("by_units", partition_by_units)

    def mine(view):
        return [np.arange(view.hidden)]

    assert get_partitioner(mine) == ("mine", mine)
    with pytest.raises(CompileError, match="partitioner 'nope' unknown.*by_units"):
        get_partitioner("nope")


def _view(net, tg, i=0) -> LayerView:
    return LayerView(index=i, n_in=net.layers[i].n_in, hidden=net.layers[i].hidden,
                     stats=net.stats(i), budget=tg.budget, cost=tg.cost)


def test_check_partition_refuses_overlap_gap_empty_and_nothing(net, target):
    view = _view(net, target)
    H = view.hidden
    check_partition(view, [np.arange(H // 2), np.arange(H // 2, H)], "L0")
    with pytest.raises(CompileError, match="layer L0: partition must cover units 0..47 exactly"):
        check_partition(view, [np.arange(H // 2 + 1), np.arange(H // 2, H)], "L0")
    with pytest.raises(CompileError, match="exactly once"):
        check_partition(view, [np.arange(H - 1)], "L0")
    with pytest.raises(CompileError, match="layer L0: slice 1 is empty"):
        check_partition(view, [np.arange(H), np.arange(0)], "L0")
    with pytest.raises(CompileError, match="layer L0: partitioner returned no slices"):
        check_partition(view, [], "L0")


def test_user_partition_that_does_not_fit_names_layer_slice_and_count(net, target):
    with pytest.raises(CompileError, match=r"layer L0 slice 0 \(48 units\).*smallest PE count"):
        partition_network(net, target.budget, target.cost, lambda v: [np.arange(v.hidden)],
                          pl=target.pl, cycles_per_tick=target.cycles_per_tick)


def test_a_single_unit_too_large_for_any_pe(net, target):
    tiny = dataclasses.replace(target.budget, bytes_available=200)
    with pytest.raises(CompileError, match="layer L0 .*even a single unit"):
        partition_network(net, tiny, target.cost, "by_units", pl=target.pl,
                          cycles_per_tick=target.cycles_per_tick)


def test_check_pe_count_passes_at_need_and_names_the_layer_below(net, target):
    part = _partition(net, target)
    need = part.n_slices + HOST_FACING_SLICES
    check_pe_count(part, need, HOST_FACING_SLICES)  # exactly enough: no error
    with pytest.raises(CompileError, match=rf"layer L\d .* smallest PE count that fits: {need}"):
        check_pe_count(part, need - 1, HOST_FACING_SLICES)
