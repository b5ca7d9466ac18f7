"""Machines (s2sim.spec.machine): the board's hexagonal torus, link kinds, paths."""

import numpy as np
import pytest

from s2sim.errors import S2SimError
from s2sim.spec.machine import BOARD_LINK, LONG_LINK, load_machine


@pytest.mark.parametrize("name, chips", [("chip", 1), ("board48", 48), ("board:7", 7),
                                         ("boards:3", 144)])
def test_machines_have_their_chips_and_symmetric_links(name, chips):
    m = load_machine(name)
    assert m.n_chips == chips
    for c in range(m.n_chips):
        for d in range(6):
            nb = int(m.neighbour[c, d])
            if nb >= 0:  # link d and link d+3 are the two ends of one wire, of one kind
                assert int(m.neighbour[nb, (d + 3) % 6]) == c
                assert m.kind[c, d] == m.kind[nb, (d + 3) % 6]


def test_board48_is_a_torus_with_wrap_links_long_range():
    m = load_machine("board48")
    assert (m.neighbour >= 0).all()  # every chip has all 6 links (torus)
    assert (m.kind == BOARD_LINK).any() and (m.kind == LONG_LINK).any()
    assert m.link_bits_per_s(0, 0) in (6e9, 2e9)
    d = np.array([[m.hops(a, b) for b in range(48)] for a in range(48)])
    assert (d == d.T).all() and d.max() <= 4
    for a, b in ((0, 47), (5, 30)):
        path = m.path(a, b)
        assert len(path) == m.hops(a, b)
        c = a
        for pc, link in path:
            assert pc == c
            c = int(m.neighbour[pc, link])
        assert c == b


def test_an_unknown_machine_is_a_one_line_error():
    with pytest.raises(S2SimError, match="unknown machine"):
        load_machine("nope")
