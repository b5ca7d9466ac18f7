"""The data NoC: QPE mesh, XY routes, link reservations, multicast through the event router.

Model (sources in the spec; choices in docs/chip.md):

* The mesh is the bounding grid of the QPE coordinates, the router position and the Ethernet
  bridge. Every grid position is a mesh router; positions without a QPE (the (4,3)/(4,4) gap of
  the event router, the (7,3)/(7,4) peripheral gap) are plain routers that forward flits.
* Routes are XY (x first, then y) (CP). Each link traversal ("hop") takes
  ``noc.cycles_per_hop`` NoC cycles (5 at 300 MHz, CP); a link accepts
  ``noc.link_flits_per_cycle`` flits per NoC cycle, so a flit holds a directed link for one NoC
  cycle (serialisation). One 192-bit flit carries a whole packet (CP).
* A multicast packet goes: source PE -> its QPE router (the PE's injection port, one flit per
  NoC cycle) -> XY path to the event router -> lookup (``router.pipeline_stages`` cycles of the
  400 MHz pipeline; ``router.routing_engines`` engines each accept one packet per cycle) -> one
  flit per destination QPE along the XY path from the router; the 4 PE bits of the flit select
  the PEs inside the QPE (CP).
* Contention: every resource (directed link, injection port, routing engine) has a next-free
  time. A flit enters a resource at ``max(ready, next_free)`` and moves it on by its occupancy.
  Reservations are made in processing order (sends sorted by send time within one flush), which
  is the documented approximation of this model.

The per-hop loop (``_reserve``) and the expansion of flits to PE deliveries
(``_expand_deliveries``) run in numba; everything else is numpy.
"""

from __future__ import annotations

import numba
import numpy as np

from s2sim.hw.dvfs import cycles_to_ps
from s2sim.spec.models import decode_pe_id

EAST, WEST, NORTH, SOUTH = 0, 1, 2, 3


class Mesh:
    """Grid positions, directed link ids and XY paths."""

    def __init__(self, positions):
        xs = [int(p[0]) for p in positions]
        ys = [int(p[1]) for p in positions]
        self.width = max(xs) + 1
        self.height = max(ys) + 1
        self.n_nodes = self.width * self.height
        self.n_links = 4 * self.n_nodes

    def node(self, x: int, y: int) -> int:
        return int(x) * self.height + int(y)

    def xy(self, node: int) -> tuple[int, int]:
        return divmod(int(node), self.height)

    def link(self, x: int, y: int, direction: int) -> int:
        return 4 * self.node(x, y) + direction

    def path(self, src, dst) -> list[int]:
        """Directed link ids along the XY route from ``src`` (x, y) to ``dst`` (x, y)."""
        x, y = int(src[0]), int(src[1])
        tx, ty = int(dst[0]), int(dst[1])
        links = []
        while x != tx:
            d = EAST if tx > x else WEST
            links.append(self.link(x, y, d))
            x += 1 if d == EAST else -1
        while y != ty:
            d = NORTH if ty > y else SOUTH
            links.append(self.link(x, y, d))
            y += 1 if d == NORTH else -1
        return links

    def hops(self, src, dst) -> int:
        return abs(int(src[0]) - int(dst[0])) + abs(int(src[1]) - int(dst[1]))


@numba.njit(cache=True, nogil=True)
def _reserve(free, t_send, inj_res, src_node, route_id,
             src_ptr, src_links, route_flit_ptr, flit_ptr, flit_links,
             eng_base, n_eng, hop_ps, flit_ps, lookup_ps, eng_ps,
             out_router_ps, out_flit_ps):  # pragma: no cover - compiled
    k = 0
    for i in range(t_send.shape[0]):
        t = t_send[i]
        r = inj_res[i]
        if r >= 0:
            s = max(t, free[r])
            free[r] = s + flit_ps
            t = s
        sn = src_node[i]
        for j in range(src_ptr[sn], src_ptr[sn + 1]):
            ln = src_links[j]
            s = max(t, free[ln])
            free[ln] = s + flit_ps
            t = s + hop_ps
        best = eng_base
        for e in range(eng_base + 1, eng_base + n_eng):
            if free[e] < free[best]:
                best = e
        s = max(t, free[best])
        free[best] = s + eng_ps
        t = s + lookup_ps
        out_router_ps[i] = t
        rid = route_id[i]
        for f in range(route_flit_ptr[rid], route_flit_ptr[rid + 1]):
            tf = t
            for j in range(flit_ptr[f], flit_ptr[f + 1]):
                ln = flit_links[j]
                s = max(tf, free[ln])
                free[ln] = s + flit_ps
                tf = s + hop_ps
            out_flit_ps[k] = tf
            k += 1
    return k


@numba.njit(cache=True, nogil=True)
def _expand_deliveries(route_id, route_deliv_ptr, deliv_flit, deliv_pe_of, route_nflits,
                       out_flit_ps):  # pragma: no cover - compiled
    """Flits to PE deliveries: packet i (route r) has deliveries ``route_deliv_ptr[r]..[r+1]``,
    each arriving with its flit (index local to the route; packet i's flits follow those of the
    packets before it in ``out_flit_ps``). Returns (packet index, pe_index, arrival ps)."""
    n = route_id.shape[0]
    total = 0
    for i in range(n):
        r = route_id[i]
        total += route_deliv_ptr[r + 1] - route_deliv_ptr[r]
    d_packet = np.empty(total, np.int64)
    d_pe = np.empty(total, np.int64)
    d_ps = np.empty(total, np.int64)
    k = 0
    flit_off = 0
    for i in range(n):
        r = route_id[i]
        for j in range(route_deliv_ptr[r], route_deliv_ptr[r + 1]):
            d_packet[k] = i
            d_pe[k] = deliv_pe_of[j]
            d_ps[k] = out_flit_ps[flit_off + deliv_flit[j]]
            k += 1
        flit_off += route_nflits[r]
    return d_packet, d_pe, d_ps


@numba.njit(cache=True, nogil=True)
def _multicast(free, t_send, inj_res, src_node, route_id, src_ptr, src_links, src_hops,
               route_flit_ptr, flit_ptr, flit_links, route_deliv_ptr, deliv_flit, deliv_pe_of,
               route_nflits, route_hops, eng_base, n_eng, hop_ps, flit_ps, lookup_ps,
               eng_ps):  # pragma: no cover - compiled
    """``Noc.multicast`` in one call: the reservations (``_reserve``), the deliveries
    (``_expand_deliveries``) and each packet's hops and flits."""
    n = t_send.shape[0]
    hops = np.empty(n, np.int64)
    flits = np.empty(n, np.int64)
    total = 0
    for i in range(n):
        r = route_id[i]
        hops[i] = src_hops[src_node[i]] + route_hops[r]
        flits[i] = 1 + route_nflits[r]
        total += route_nflits[r]
    router_ps = np.empty(n, np.int64)
    out_flit = np.empty(total, np.int64)
    _reserve(free, t_send, inj_res, src_node, route_id, src_ptr, src_links, route_flit_ptr,
             flit_ptr, flit_links, eng_base, n_eng, hop_ps, flit_ps, lookup_ps, eng_ps,
             router_ps, out_flit)
    d_packet, d_pe, d_ps = _expand_deliveries(route_id, route_deliv_ptr, deliv_flit,
                                              deliv_pe_of, route_nflits, out_flit)
    return router_ps, d_packet, d_pe, d_ps, hops, flits


class Route:
    """A compiled routing result: flits per destination QPE and the PE deliveries they carry."""

    __slots__ = ("id", "flit_nodes", "flit_paths", "deliv_flit", "deliv_pe", "links", "hops",
                 "entry")

    def __init__(self, rid, entry, flit_nodes, flit_paths, deliv_flit, deliv_pe, links):
        self.id = rid
        self.entry = entry
        self.flit_nodes = flit_nodes
        self.flit_paths = flit_paths
        self.deliv_flit = deliv_flit  # flit index (within the route) of each delivery
        self.deliv_pe = deliv_pe      # destination pe_index of each delivery
        self.links = links            # chip links (sorted tuple)
        self.hops = sum(len(p) for p in flit_paths)


class Noc:
    """Resources, route registry and the reservation call for one chip."""

    def __init__(self, spec, pe_ids: list[int]):
        org = spec.organisation
        qpes = [tuple(c) for c in org.qpe_coords.value]
        self.router_xy = tuple(org.router_position.value)
        self.bridge_xy = tuple(spec.host.bridge_qpe.value)
        self.mesh = Mesh(qpes + [self.router_xy, self.bridge_xy])
        m = self.mesh
        f_noc = float(spec.noc.frequency_hz.value)
        f_rt = float(spec.router.frequency_hz.value)
        self.hop_ps = cycles_to_ps(int(spec.noc.cycles_per_hop.value), f_noc)
        self.flit_ps = cycles_to_ps(1, f_noc * float(spec.noc.link_flits_per_cycle.value))
        self.lookup_ps = cycles_to_ps(int(spec.router.pipeline_stages.value), f_rt)
        self.eng_ps = cycles_to_ps(1, f_rt)
        self.n_eng = int(spec.router.routing_engines.value)
        self.router_node = m.node(*self.router_xy)
        self.bridge_node = m.node(*self.bridge_xy)
        n_pe = len(pe_ids)
        # Resource layout of the next-free array.
        self.inj_base = m.n_links
        self.eng_base = self.inj_base + n_pe
        self.n_resources = self.eng_base + self.n_eng
        self.free = np.zeros(self.n_resources, dtype=np.int64)
        self.pe_node = np.array([m.node(*decode_pe_id(pid)[:2]) for pid in pe_ids],
                                dtype=np.int64)
        # XY path from every mesh node to the event router (sources) — indexed by node.
        src_ptr = [0]
        src_links: list[int] = []
        for node in range(m.n_nodes):
            src_links += m.path(m.xy(node), self.router_xy)
            src_ptr.append(len(src_links))
        self.src_ptr = np.array(src_ptr, dtype=np.int64)
        self.src_links = np.array(src_links, dtype=np.int64)
        self.src_hops = np.diff(self.src_ptr)
        self.pe_ids = list(pe_ids)
        self.routes: list[Route] = []
        self.any_links = False
        self._dirty = True
        self._route_flit_ptr = np.zeros(1, dtype=np.int64)
        self._flit_ptr = np.zeros(1, dtype=np.int64)
        self._flit_links = np.zeros(0, dtype=np.int64)
        self._route_deliv_ptr = np.zeros(1, dtype=np.int64)
        self._deliv_flit = np.zeros(0, dtype=np.int64)
        self._deliv_pe = np.zeros(0, dtype=np.int64)
        self._route_hops = np.zeros(0, dtype=np.int64)
        self._route_nflits = np.zeros(0, dtype=np.int64)

    # -- routes -------------------------------------------------------------------------------

    def compile_route(self, entry, pe_index_of: dict[int, int]) -> Route:
        """Turn a routing entry into flits (one per destination QPE) and PE deliveries."""
        by_node: dict[int, list[int]] = {}
        for pid in sorted(entry.pes):
            idx = pe_index_of[pid]
            by_node.setdefault(int(self.pe_node[idx]), []).append(idx)
        flit_nodes, flit_paths, deliv_flit, deliv_pe = [], [], [], []
        for f, node in enumerate(sorted(by_node)):
            flit_nodes.append(node)
            flit_paths.append(self.mesh.path(self.router_xy, self.mesh.xy(node)))
            for idx in by_node[node]:
                deliv_flit.append(f)
                deliv_pe.append(idx)
        route = Route(len(self.routes), entry, flit_nodes, flit_paths,
                      np.array(deliv_flit, dtype=np.int64), np.array(deliv_pe, dtype=np.int64),
                      tuple(sorted(entry.links)))
        self.routes.append(route)
        self.any_links = self.any_links or bool(route.links)
        self._dirty = True
        return route

    def clear_routes(self) -> None:
        self.routes.clear()
        self.any_links = False
        self._dirty = True

    def _rebuild(self) -> None:
        rf, fp, fl, rd, df, dp, rh, rn = [0], [0], [], [0], [], [], [], []
        for r in self.routes:
            for p in r.flit_paths:
                fl += p
                fp.append(len(fl))
            rf.append(len(fp) - 1)
            df.append(r.deliv_flit)
            dp.append(r.deliv_pe)
            rd.append(rd[-1] + len(r.deliv_pe))
            rh.append(r.hops)
            rn.append(len(r.flit_nodes))
        self._route_flit_ptr = np.array(rf, dtype=np.int64)
        self._flit_ptr = np.array(fp, dtype=np.int64)
        self._flit_links = np.array(fl, dtype=np.int64)
        self._route_deliv_ptr = np.array(rd, dtype=np.int64)
        self._deliv_flit = np.concatenate(df) if df else np.zeros(0, dtype=np.int64)
        self._deliv_pe = np.concatenate(dp) if dp else np.zeros(0, dtype=np.int64)
        self._route_hops = np.array(rh, dtype=np.int64)
        self._route_nflits = np.array(rn, dtype=np.int64)
        self._dirty = False

    # -- timing -------------------------------------------------------------------------------

    def multicast(self, t_send, src_node, inj_res, route_id):
        """Reserve the NoC for packets (already in processing order).

        Returns ``(router_ps, deliv_packet, deliv_pe, deliv_ps, hops, flits)``: the time each
        packet leaves the router lookup, and for every PE delivery its packet index, destination
        pe_index and arrival time; plus per-packet hop and flit counts.
        """
        if self._dirty:
            self._rebuild()
        return _multicast(self.free, t_send, inj_res, src_node, route_id, self.src_ptr,
                          self.src_links, self.src_hops, self._route_flit_ptr, self._flit_ptr,
                          self._flit_links, self._route_deliv_ptr, self._deliv_flit,
                          self._deliv_pe, self._route_nflits, self._route_hops, self.eng_base,
                          self.n_eng, self.hop_ps, self.flit_ps, self.lookup_ps, self.eng_ps)

    def unicast_path_time(self, t_ps: int, src_xy, dst_xy) -> tuple[int, int]:
        """Reserve an XY path (for host-bound traffic); returns (arrival_ps, hops)."""
        t = int(t_ps)
        path = self.mesh.path(src_xy, dst_xy)
        free = self.free
        for ln in path:
            s = max(t, int(free[ln]))
            free[ln] = s + self.flit_ps
            t = s + self.hop_ps
        return t, len(path)
