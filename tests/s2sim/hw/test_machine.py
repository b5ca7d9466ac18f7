"""Chip-to-chip links (s2sim.hw.machine): serialisation, queue, wait and drops against a
packet-by-packet SimPy reference, and a machine of chips forwarding across links."""

import numpy as np
import pytest
import simpy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from s2sim.errors import S2SimError
from s2sim.hw.machine import LinkChannel, serialise


def _reference(times, packet_ps, latency_ps, queue, wait_ps):
    """Packet by packet in SimPy: a FIFO link sending one packet at a time; a packet arriving
    with ``queue`` packets in the link waits for a place until ``wait_ps``, else it is dropped
    (places free in order, so the first waiter takes the first place). A packet leaving at t
    frees its place for one arriving at t (the arrival looks after a zero-time step), and for
    one whose wait ends at t ("up to wait_ps" includes its last instant: the wait's timeout is
    put half a picosecond later, after any release at that time, whatever SimPy's event
    order)."""
    env = simpy.Environment()
    link = simpy.Resource(env, capacity=1)
    places = simpy.Resource(env, capacity=queue)
    out = [0] * len(times)

    def packet(i, t):
        yield env.timeout(t)
        yield env.timeout(0)
        req = places.request()
        got = yield req | env.timeout(wait_ps + 0.5)
        if req not in got:
            req.cancel()
            out[i] = -1
            return
        with link.request() as lr:
            yield lr
            yield env.timeout(packet_ps)
        places.release(req)
        out[i] = env.now + latency_ps

    for i, t in enumerate(times):  # packets enter in their order (ties: the earlier first)
        env.process(packet(i, t))
    env.run()
    return out


# a place frees just as the wait ends (found by hypothesis)
@example(gaps=[0, 0], packet_ps=1, latency_ps=0, queue=1, wait_ps=1)
@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 400), min_size=1, max_size=40),
       st.integers(1, 60), st.integers(0, 100), st.integers(1, 5), st.integers(0, 150))
def test_link_matches_a_packet_by_packet_reference(gaps, packet_ps, latency_ps, queue, wait_ps):
    times = np.cumsum(gaps).tolist()
    got = serialise(times, packet_ps, latency_ps, queue, wait_ps).tolist()
    assert got == _reference(times, packet_ps, latency_ps, queue, wait_ps)


def test_back_to_back_packets_serialise_at_the_link_rate_and_a_full_queue_drops():
    ch = LinkChannel(packet_ps=16_000, latency_ps=50_000, queue=2)
    assert [ch.offer(0), ch.offer(0), ch.offer(0)] == [66_000, 82_000, -1]
    assert (ch.sent, ch.dropped, ch.busy_ps) == (2, 1, 32_000)
    assert ch.offer(16_000) == 98_000  # the first packet has left: a place is free


def test_a_bad_link_is_a_one_line_error():
    with pytest.raises(S2SimError, match="packet time 0 ps"):
        LinkChannel(0, 0, 1)
