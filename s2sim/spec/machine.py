"""Machines: one SpiNNaker2 chip (the default), a board of 1-48 chips, or N 48-chip boards.

    from s2sim.spec.machine import load_machine
    m = load_machine("board48")          # "chip" | "board48" | "board:N" (1..48) | "boards:N"
    m.n_chips, m.neighbour[c, link], m.path(a, b), m.hops(a, b), m.describe()

Topology (CP, MC; shared/docs/spinnaker2.md): every chip has 6 chip-to-chip links; a board's 48
chips sit in a hexagon on SpiNNaker's triangular lattice (chip (x, y), rows y = 0..7 with x from
max(0, y - 3) to min(7, y + 4)), and the links run east, north-east, north, west, south-west and
south (link numbers 0..5, the SpiNNaker convention; link d and link (d + 3) mod 6 are the two ends
of one wire). The hexagon tiles the plane under the translations (8, 4) and (4, 8) (area 48), so
wrapping a board onto itself through them makes the hexagonal torus; N boards tile the torus
whose translations are N·(8, 4) and (4, 8), board k at offset k·(8, 4). A link between two chips
of one hexagon, without wrapping, is an on-board link (6 Gbit/s, the chip spec's
``links.board_link_bits_per_s``); a link that leaves the hexagon (to another board, or a board's
own wrap-around through its edge connectors) is a long-range link (2 Gbit/s,
``links.inter_board_link_bits_per_s``) — that the wrap links are long-range is our reading (EST).
``board:N`` (N < 48) takes the N chips nearest the Ethernet chip and the on-board links among
them (no wrap). Each board's Ethernet chip is its chip (0, 0) (EST: SpiNNaker1's convention; CP
says only that one chip per board has the port).

Link timing and energy beyond the chip spec are in ``machine.yaml`` (every number sourced).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np
import yaml
from pydantic import ValidationError

from s2sim.errors import SpecError
from s2sim.spec.models import Sourced, _Strict

__all__ = ["DIRECTIONS", "BOARD_CHIPS", "Machine", "load_machine", "MACHINE_NAMES",
           "BOARD_LINK", "LONG_LINK"]

# link d -> (dx, dy): E, NE, N, W, SW, S (SpiNNaker's link numbering)
DIRECTIONS = ((1, 0), (1, 1), (0, 1), (-1, 0), (-1, -1), (0, -1))
BOARD_LINK, LONG_LINK = 0, 1
LINK_KINDS = ("board", "long-range")
# the 48-chip board's hexagon (see the module doc)
BOARD_CHIPS = tuple((x, y) for y in range(8) for x in range(max(0, y - 3), min(7, y + 4) + 1))
_TILE_A, _TILE_B = (8, 4), (4, 8)
MAX_BOARDS = 64
MACHINE_NAMES = "chip, board48, board:N (1-48 chips of a board), boards:N (N 48-chip boards)"


class BoardParams(_Strict):
    chips_per_board: Sourced
    ethernet_chips_per_board: Sourced


class LinkParams(_Strict):
    board_link_latency_s: Sourced
    inter_board_link_latency_s: Sourced
    inter_board_link_energy_j_per_bit: Sourced
    link_queue_packets: Sourced
    link_wait_s: Sourced


class MachineParams(_Strict):
    board: BoardParams
    links: LinkParams


@lru_cache(maxsize=1)
def machine_params() -> MachineParams:
    """The bundled ``machine.yaml`` (sourced link latency, long-range energy, queue depth)."""
    text = resources.files("s2sim.spec").joinpath("machine.yaml").read_text()
    try:
        return MachineParams.model_validate(yaml.safe_load(text))
    except ValidationError as e:  # pragma: no cover - the bundled file is tested
        raise SpecError(f"machine.yaml: {e.errors()[0]['msg']}") from None


def hex_hops(dx: int, dy: int) -> int:
    """Links between two chips ``(dx, dy)`` apart on the triangular lattice (no wrap)."""
    return max(abs(dx), abs(dy)) if dx * dy >= 0 else abs(dx) + abs(dy)


@dataclass
class Machine:
    """Chips (global index c: board-major, then the board's chip order), their links and the
    link parameters. ``neighbour[c, d]``: the chip at the far end of chip c's link d (-1: none);
    ``kind[c, d]``: BOARD_LINK or LONG_LINK."""

    name: str
    n_boards: int
    chips: list[tuple[int, int, int]]  # (board, x, y)
    neighbour: np.ndarray
    kind: np.ndarray
    ethernet: list[int]
    spec: object = field(repr=False)
    params: MachineParams = field(repr=False)
    _dist: np.ndarray | None = field(default=None, repr=False)
    _paths: dict = field(default_factory=dict, repr=False)

    @property
    def n_chips(self) -> int:
        return len(self.chips)

    @property
    def single_chip(self) -> bool:
        return self.n_chips == 1

    def label(self, c: int) -> str:
        b, x, y = self.chips[c]
        return f"chip {c} (board {b}, ({x},{y}))"

    # -- link figures -----------------------------------------------------------------------
    def link_bits_per_s(self, c: int, d: int) -> float:
        lk = self.spec.links
        return float((lk.board_link_bits_per_s if self.kind[c, d] == BOARD_LINK
                      else lk.inter_board_link_bits_per_s).value)

    def link_latency_s(self, c: int, d: int) -> float:
        p = self.params.links
        return float((p.board_link_latency_s if self.kind[c, d] == BOARD_LINK
                      else p.inter_board_link_latency_s).value)

    def link_energy_j_per_bit(self, c: int, d: int) -> float:
        if self.kind[c, d] == BOARD_LINK:
            return float(self.spec.links.link_energy_j_per_bit.value)
        return float(self.params.links.inter_board_link_energy_j_per_bit.value)

    @property
    def packet_bits(self) -> int:
        return int(self.spec.links.link_packet_bits.value)

    @property
    def link_queue_packets(self) -> int:
        return int(self.params.links.link_queue_packets.value)

    @property
    def link_wait_s(self) -> float:
        return float(self.params.links.link_wait_s.value)

    # -- paths ------------------------------------------------------------------------------
    def _bfs(self, a: int) -> tuple[np.ndarray, np.ndarray]:
        dist = np.full(self.n_chips, -1, np.int64)
        via = np.full((self.n_chips, 2), -1, np.int64)  # (previous chip, its link)
        dist[a] = 0
        q = deque([a])
        while q:
            c = q.popleft()
            for d in range(6):
                n = int(self.neighbour[c, d])
                if n >= 0 and dist[n] < 0:
                    dist[n] = dist[c] + 1
                    via[n] = (c, d)
                    q.append(n)
        return dist, via

    def hops(self, a: int, b: int) -> int:
        """Links on a shortest path from chip ``a`` to chip ``b``."""
        if self._dist is None:
            self._dist = np.stack([self._bfs(c)[0] for c in range(self.n_chips)])
        return int(self._dist[a, b])

    def path(self, a: int, b: int) -> list[tuple[int, int]]:
        """The (chip, link) pairs a packet crosses from ``a`` to ``b``: the breadth-first tree
        from ``a`` (links tried in the order 0..5), so deterministic and shortest; multicast
        trees are unions of these paths from one source and never branch back."""
        if a not in self._paths:
            self._paths[a] = self._bfs(a)[1]
        via = self._paths[a]
        out = []
        c = b
        while c != a:
            p, d = (int(v) for v in via[c])
            if p < 0:
                raise SpecError(f"machine {self.name}: no link path from chip {a} to chip {b}")
            out.append((p, d))
            c = p
        return out[::-1]

    # -- description ------------------------------------------------------------------------
    def describe(self) -> dict:
        links = []
        for c in range(self.n_chips):
            for d in range(6):
                n = int(self.neighbour[c, d])
                if n > c:
                    links.append([c, d, n, (d + 3) % 6, LINK_KINDS[int(self.kind[c, d])]])
        lk, p = self.spec.links, self.params.links

        def src(s):
            return {"value": s.value, "source": s.source} | ({"note": s.note} if s.note else {})

        return {
            "machine": self.name, "boards": self.n_boards, "chips": self.n_chips,
            "pes": self.n_chips * len(self.spec.pe_ids()),
            "ethernet_chips": self.ethernet,
            "chip_coords": [list(c) for c in self.chips],
            "link_directions": ["E", "NE", "N", "W", "SW", "S"],
            "links": {"count": len(links), "columns": ["chip", "link", "peer", "peer_link",
                                                         "kind"], "rows": links},
            "link_parameters": {
                "links_per_chip": src(lk.chip_links),
                "packet_bits": src(lk.link_packet_bits),
                "board_link_bits_per_s": src(lk.board_link_bits_per_s),
                "inter_board_link_bits_per_s": src(lk.inter_board_link_bits_per_s),
                "board_link_energy_j_per_bit": src(lk.link_energy_j_per_bit),
                "inter_board_link_energy_j_per_bit": src(p.inter_board_link_energy_j_per_bit),
                "board_link_latency_s": src(p.board_link_latency_s),
                "inter_board_link_latency_s": src(p.inter_board_link_latency_s),
                "link_queue_packets": src(p.link_queue_packets),
            },
        }


def _board_torus(n_boards: int):
    """(chips, neighbour, kind) of ``n_boards`` boards in one hexagonal torus."""
    hexset = {xy: i for i, xy in enumerate(BOARD_CHIPS)}
    per = len(BOARD_CHIPS)
    # every lattice point near the domain -> (board, chip in board, its tile (m, n))
    cells: dict[tuple[int, int], tuple[int, int, tuple[int, int]]] = {}
    for m in range(-2 * n_boards - 2, 2 * n_boards + 3):
        for n in range(-3, 4):
            for (x, y), i in hexset.items():
                p = (x + m * _TILE_A[0] + n * _TILE_B[0], y + m * _TILE_A[1] + n * _TILE_B[1])
                cells[p] = (m % n_boards, i, (m, n))
    chips = [(b, x, y) for b in range(n_boards) for (x, y) in BOARD_CHIPS]
    nb = np.full((len(chips), 6), -1, np.int64)
    kind = np.zeros((len(chips), 6), np.int8)
    for b in range(n_boards):
        for (x, y), i in hexset.items():
            c = b * per + i
            for d, (dx, dy) in enumerate(DIRECTIONS):
                pb, pi, tile = cells[(x + b * _TILE_A[0] + dx, y + b * _TILE_A[1] + dy)]
                nb[c, d] = pb * per + pi
                kind[c, d] = BOARD_LINK if tile == (b, 0) else LONG_LINK
    return chips, nb, kind


def _partial_board(n: int):
    """The ``n`` chips of one board nearest its Ethernet chip (0, 0), on-board links only."""
    order = sorted(BOARD_CHIPS, key=lambda xy: (hex_hops(*xy), xy[1], xy[0]))[:n]
    idx = {xy: i for i, xy in enumerate(order)}
    nb = np.full((n, 6), -1, np.int64)
    for (x, y), i in idx.items():
        for d, (dx, dy) in enumerate(DIRECTIONS):
            nb[i, d] = idx.get((x + dx, y + dy), -1)
    return [(0, x, y) for (x, y) in order], nb, np.zeros((n, 6), np.int8)


def _count(text: str, arg: str, lo: int, hi: int) -> int:
    try:
        v = int(arg)
    except ValueError:
        v = -1
    if not lo <= v <= hi:
        raise SpecError(f"--machine {text!r}: N must be a whole number {lo}..{hi} "
                        f"(machines: {MACHINE_NAMES})")
    return v


def load_machine(name: str | None = None, spec=None) -> Machine:
    """The machine ``name`` names (None or ``chip``: one chip, today's default); ``spec``: the
    chip spec (default: the bundled one). SpecError (one line) for an unknown name."""
    if spec is None:
        from s2sim.spec import load_spec

        spec = load_spec()
    text = "chip" if name is None else str(name)
    per = int(machine_params().board.chips_per_board.value)
    kind, _, arg = text.partition(":")
    if text == "chip":
        chips, nb, kd, n_boards = [(0, 0, 0)], np.full((1, 6), -1, np.int64), \
            np.zeros((1, 6), np.int8), 1
    elif text == f"board{per}":
        (chips, nb, kd), n_boards = _board_torus(1), 1
    elif kind == "board" and arg:
        n = _count(text, arg, 1, per)
        (chips, nb, kd), n_boards = (_board_torus(1) if n == per else _partial_board(n)), 1
    elif kind == "boards" and arg:
        n_boards = _count(text, arg, 1, MAX_BOARDS)
        chips, nb, kd = _board_torus(n_boards)
    else:
        raise SpecError(f"--machine {text!r}: unknown machine (machines: {MACHINE_NAMES})")
    ethernet = [c for c, (_b, x, y) in enumerate(chips) if (x, y) == (0, 0)]
    return Machine(name=text, n_boards=n_boards, chips=chips, neighbour=nb, kind=kd,
                   ethernet=ethernet, spec=spec, params=machine_params())
