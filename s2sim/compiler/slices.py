"""Slices stage: the partition's unit arrays -> one SliceInfo per program instance (input
source, EGRU slices, readout), with the SRAM regions and cycle estimate each core kind gives
(``firmware_py.kinds``), the slices' keys and the tick of their first step
(``firmware_py.pipeline``).
"""

from __future__ import annotations

from firmware_py.cost import CostModel
from firmware_py.keys import DECODER_SRC, INPUT_SRC, egru_src, key_base
from firmware_py.kinds import egru_slice, input_source, readout
from firmware_py.pipeline import (
    INPUT_FIRST_TICK,
    decoder_first_tick,
    layer_first_tick,
    readout_first_tick,
)
from s2sim.compiler.ir import Network
from s2sim.compiler.mapping import SliceInfo
from s2sim.compiler.partition import Budget, Partition
from s2sim.errors import CompileError

__all__ = ["describe_slices", "slice_key_base"]


def slice_key_base(kind: str, layer: int, index: int) -> int | None:
    """The key block a slice sends with (firmware_py.keys): the input source's, an EGRU slice's
    by layer and index, a decoder block's (its best row, to the readout) by index; the readout
    sends nothing on chip."""
    if kind == "input":
        return key_base(INPUT_SRC, 0)
    if kind == "egru":
        return key_base(egru_src(layer), index)
    if kind == "decoder":
        return key_base(DECODER_SRC, index)
    return None


def describe_slices(network: Network, part: Partition, budget: Budget,
                    cost: CostModel, decoder_blocks=None) -> list[SliceInfo]:
    """Slices in pipeline order: input, layer 0's slices, ..., the decoder blocks (``(view,
    blocks)`` of ``s2sim.compiler.decoder_blocks`` with the decoder on the chip), readout; each
    checked against the PE's data SRAM (with the real slice-offset table sizes)."""
    infos = [_input_slice(network, budget, cost)]
    for i in range(len(part.parts)):
        infos += _layer_slices(network, part, i, budget)
    if decoder_blocks is not None:
        infos += _decoder_slices(network, *decoder_blocks)
    infos.append(_readout_slice(network, budget, cost,
                                n_blocks=0 if decoder_blocks is None else len(decoder_blocks[1])))
    for s in infos:
        if s.sram_bytes > budget.bytes_available:
            raise CompileError(f"{s.id}: needs {s.sram_bytes} bytes of data SRAM, a PE has "
                               f"{budget.bytes_available} available (regions: {s.regions})")
    return infos


def _input_slice(network: Network, budget: Budget, cost: CostModel) -> SliceInfo:
    n_in = network.input.n_out
    regions = input_source.regions(n_in, budget.align)
    return SliceInfo(id="input", kind="input", layer=-1, index=0, units=list(range(n_in)),
                     n_in=n_in, regions=regions, sram_bytes=sum(regions.values()),
                     est_cycles_per_step=input_source.estimate_cycles(cost, n_in,
                                                                      budget.input_activity),
                     key_base=slice_key_base("input", -1, 0), first_tick=INPUT_FIRST_TICK)


def _layer_slices(network: Network, part: Partition, i: int, budget: Budget) -> list[SliceInfo]:
    view, slices = part.views[i], part.parts[i]
    n_src_in = 1 if i == 0 else len(part.parts[i - 1])
    st = network.stats(i)
    out = []
    for k, s in enumerate(slices):
        _, _, c = view.footprint(s)
        nnz_w = int(st.nnz_w_per_unit[s].sum())
        nnz_r = int(st.nnz_r_per_unit[s].sum())
        regions = egru_slice.slice_regions(view.n_in, view.hidden, len(s), nnz_w, nnz_r,
                                           n_src_in, len(slices), budget.align,
                                           view.cost.index_bytes)
        out.append(SliceInfo(
            id=f"L{i}.S{k}", kind="egru", layer=i, index=k, units=[int(u) for u in s],
            n_in=view.n_in, nnz_w=nnz_w, nnz_r=nnz_r, regions=regions,
            sram_bytes=sum(regions.values()), est_cycles_per_step=c,
            key_base=slice_key_base("egru", i, k), first_tick=layer_first_tick(i)))
    return out


def _decoder_slices(network: Network, view, blocks) -> list[SliceInfo]:
    L = len(network.layers)
    out = []
    for k, rows in enumerate(blocks):
        nbytes, regions, cycles = view.footprint(rows)
        out.append(SliceInfo(
            id=f"D.S{k}", kind="decoder", layer=L, index=k, units=[int(r) for r in rows],
            n_in=view.dim, nnz_w=int(view.nnz_per_row[rows].sum()), regions=regions,
            sram_bytes=nbytes, est_cycles_per_step=cycles,
            key_base=slice_key_base("decoder", L, k), first_tick=decoder_first_tick(L)))
    return out


def _readout_slice(network: Network, budget: Budget, cost: CostModel,
                   n_blocks: int = 0) -> SliceInfo:
    ro = network.readout
    L = len(network.layers)
    H_last = network.layers[-1].hidden
    has_w = ro.weights is not None
    regions = readout.regions(H_last, ro.n_out, has_w, bool(ro.trace), budget.align)
    est = readout.estimate_cycles(cost, H_last, ro.n_out, has_w, bool(ro.trace), budget.activity)
    chip_decoder = n_blocks > 0
    if chip_decoder:  # the blocks' best rows, one per block, and the token to the host
        regions = {"config": regions["config"]}
        est = cost.c("readout_tick") + n_blocks * (cost.c("readout_best") + cost.irq_cycles)
    return SliceInfo(id="readout", kind="readout", layer=L, index=0, units=[], n_in=H_last,
                     regions=regions, sram_bytes=sum(regions.values()), est_cycles_per_step=est,
                     key_base=None, first_tick=readout_first_tick(L, chip_decoder))
