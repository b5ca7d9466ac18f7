"""The on-chip decoder's partition (``--decoder chip``): the vocabulary rows of the tied
embedding/decoder table in contiguous blocks, one per PE, sized against the PE's data SRAM and
cycle budget with the decoder kind's own costs (``firmware_py.kinds.decoder``).

The fewest blocks that fit, then the same count balanced in bytes and cycles (as the EGRU
layers' ``by_units`` partitioner does); a deployment of a given PE count (``--pes N``) gives the
decoder the fewest blocks that fit and the layers the rest — the blocks are SRAM-bound (the
table is the largest array on the chip), so more of them would only take slices from the
layers, whose work sets the step period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware_py.cost import CostModel
from firmware_py.keys import MAX_SLICES
from firmware_py.kinds import decoder as dec
from s2sim.errors import CompileError

__all__ = ["DecoderView", "partition_decoder", "check_chip_decoder"]


def check_chip_decoder(network) -> None:
    """Refuse a network the on-chip decoder cannot hold (one line)."""
    emb = network.input.embedding
    if emb is None or network.readout.host_decoder != "tied" or network.model is None:
        raise CompileError(f"--decoder chip: network {network.name!r} has no tied embedding/"
                           "decoder (only language models with a tied decoder have one)")
    if emb.shape[1] != network.layers[-1].hidden:
        raise CompileError(f"--decoder chip: the table is {emb.shape[1]} wide, the top layer "
                           f"has {network.layers[-1].hidden} units")


@dataclass
class DecoderView:
    """The table as the decoder partition sees it: per-row costs and a footprint function."""

    network: object  # s2sim.compiler.ir.Network with the table (input.embedding)
    budget: object  # s2sim.compiler.partition.Budget
    cost: CostModel

    def __post_init__(self):
        self.nnz_per_row, self.value_bytes = self.network.table_stats()
        self.rows, self.dim = self.network.input.embedding.shape

    def row_costs(self) -> tuple[np.ndarray, np.ndarray]:
        return dec.row_costs(self.cost, self.nnz_per_row, self.budget.activity, self.value_bytes)

    def fixed(self) -> tuple[int, int]:
        return dec.fixed_costs(self.cost, self.dim, self.budget.activity, self.budget.align)

    def footprint(self, rows: np.ndarray) -> tuple[int, dict[str, int], int]:
        """(bytes, regions, estimated cycles per step) of a block holding ``rows``."""
        rows = np.asarray(rows, np.int64)
        nnz = int(self.nnz_per_row[rows].sum())
        regions = dec.block_regions(rows.size, self.dim, nnz, self.value_bytes,
                                    self.budget.align)
        _, fc = self.fixed()
        _, rc = self.row_costs()
        return sum(regions.values()), regions, int(np.ceil(fc + rc[rows].sum()))

    def fits(self, rows) -> bool:
        b, _, c = self.footprint(rows)
        return (b <= self.budget.bytes_available and c <= self.budget.cycles_available
                and len(rows) <= dec.MAX_ROWS_PER_BLOCK)

    def greedy(self) -> list[np.ndarray]:
        rb, rc = self.row_costs()
        fb, fc = self.fixed()
        cap_b = self.budget.bytes_available - fb
        cap_c = self.budget.cycles_available - fc
        if cap_b < rb.max(initial=0) or cap_c < rc.max(initial=0):
            raise CompileError(
                f"--decoder chip: even one row of the table needs {int(rb.max()) + fb} bytes / "
                f"{int(rc.max() + fc)} cycles per step, a PE offers "
                f"{self.budget.bytes_available} bytes / {self.budget.cycles_available} cycles")
        cb = np.concatenate([[0], np.cumsum(rb)])
        cc = np.concatenate([[0.0], np.cumsum(rc)])
        out, start = [], 0
        while start < self.rows:
            end_b = np.searchsorted(cb, cb[start] + cap_b, side="right") - 1
            end_c = np.searchsorted(cc, cc[start] + cap_c, side="right") - 1
            end = max(start + 1, min(end_b, end_c, start + dec.MAX_ROWS_PER_BLOCK, self.rows))
            out.append(np.arange(start, end, dtype=np.int64))
            start = end
        return out

    def balanced(self, n: int) -> list[np.ndarray]:
        rb, rc = self.row_costs()
        w = rb / max(rb.sum(), 1) + rc / max(rc.sum(), 1e-9)
        cw = np.cumsum(w)
        cuts = np.searchsorted(cw, cw[-1] * np.arange(1, n) / n, side="left") + 1
        edges = np.unique(np.concatenate([[0], np.clip(cuts, 1, self.rows - 1), [self.rows]]))
        return [np.arange(a, b, dtype=np.int64) for a, b in zip(edges[:-1], edges[1:],
                                                                 strict=True)]


def partition_decoder(network, budget, cost: CostModel) -> tuple[DecoderView, list[np.ndarray]]:
    """(view, row blocks): the fewest contiguous blocks that fit, balanced where they still fit."""
    check_chip_decoder(network)
    view = DecoderView(network, budget, cost)
    greedy = view.greedy()
    blocks = greedy
    for m in range(len(greedy), len(greedy) + 3):
        cand = view.balanced(m)
        if len(cand) == m and all(view.fits(b) for b in cand):
            blocks = cand
            break
    if len(blocks) > MAX_SLICES:
        raise CompileError(f"--decoder chip: the table needs {len(blocks)} blocks, the key "
                           f"layout allows {MAX_SLICES}")
    return view, blocks
