"""The slices stage (s2sim.compiler.slices): one SliceInfo per program, in pipeline order."""

import dataclasses

import numpy as np
import pytest

from firmware_py.keys import INPUT_SRC, egru_src, key_base
from firmware_py.pipeline import INPUT_FIRST_TICK, layer_first_tick, readout_first_tick
from s2sim.compiler.compile import _target
from s2sim.compiler.partition import partition_network
from s2sim.compiler.slices import describe_slices
from s2sim.errors import CompileError

SMALL_SRAM = {"memory.data_sram_bytes": 12000}


NET = dict(sizes=(40, 30, 20), n_in=16, density=0.3, seed=21, readout_out=4)  # `net` (conftest)


@pytest.fixture(scope="module")
def staged(net):
    tg = _target(net, None, None, SMALL_SRAM, None, None, None, {})
    part = partition_network(net, tg.budget, tg.cost, "by_units", pl=tg.pl,
                             cycles_per_tick=tg.cycles_per_tick)
    return tg, part, describe_slices(net, part, tg.budget, tg.cost)


def test_slices_in_pipeline_order_with_the_partition_units(net, staged):
    _, part, infos = staged
    expected = ["input"] + [f"L{i}.S{k}" for i, p in enumerate(part.parts)
                            for k in range(len(p))] + ["readout"]
    assert [s.id for s in infos] == expected
    by = {s.id: s for s in infos}
    for i, p in enumerate(part.parts):
        for k, units in enumerate(p):
            s = by[f"L{i}.S{k}"]
            assert (s.kind, s.layer, s.index) == ("egru", i, k)
            assert s.units == [int(u) for u in units]
    assert by["input"].units == list(range(net.input.n_out)) and by["input"].layer == -1
    assert by["readout"].units == [] and by["readout"].layer == len(net.layers)
    assert by["readout"].n_in == net.layers[-1].hidden


def test_regions_sum_to_sram_bytes_and_fit(staged):
    tg, _, infos = staged
    for s in infos:
        assert s.regions and s.sram_bytes == sum(s.regions.values())
        assert 0 < s.sram_bytes <= tg.budget.bytes_available
        assert all(v % tg.budget.align == 0 for v in s.regions.values()), s.id
        assert s.est_cycles_per_step > 0


def test_first_ticks_follow_the_pipeline(net, staged):
    _, _, infos = staged
    L = len(net.layers)
    for s in infos:
        want = {"input": INPUT_FIRST_TICK, "readout": readout_first_tick(L)}.get(
            s.kind, layer_first_tick(s.layer))
        assert s.first_tick == want, s.id
    assert [s.first_tick for s in infos if s.kind == "egru"] == sorted(
        s.first_tick for s in infos if s.kind == "egru")


def test_keys_and_nonzero_counts(net, staged):
    _, _, infos = staged
    assert infos[0].key_base == key_base(INPUT_SRC, 0)
    assert infos[-1].key_base is None  # the readout sends nothing on chip
    for s in infos[1:-1]:
        assert s.key_base == key_base(egru_src(s.layer), s.index)
        layer = net.layers[s.layer]
        H, U = layer.hidden, np.asarray(s.units)
        cols = np.concatenate([U, H + U, 2 * H + U])
        assert s.nnz_w == np.count_nonzero(layer.W[:, cols])
        assert s.nnz_r == np.count_nonzero(layer.R[:, cols])
    assert len({s.key_base for s in infos[:-1]}) == len(infos) - 1


def test_slice_over_the_sram_raises_naming_it(net, staged):
    tg, part, infos = staged
    limit = max(s.sram_bytes for s in infos) - 1
    first_over = next(s for s in infos if s.sram_bytes > limit)
    small = dataclasses.replace(tg.budget, bytes_available=limit)
    with pytest.raises(CompileError, match=rf"^{first_over.id}: needs {first_over.sram_bytes} "
                                           rf"bytes of data SRAM, a PE has {limit}"):
        describe_slices(net, part, small, tg.cost)
