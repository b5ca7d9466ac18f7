"""What all engines share: preparing a run (inputs, network, spec), the oracle, the comparison,
and the activity metrics (events, effective MACs) computed from per-layer outputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware_py.kinds import KINDS
from firmware_py.kinds.input_source import host_packets_per_step
from s2sim.engine.result import Mismatches, RunResult
from s2sim.errors import S2SimError
from s2sim.spec.models import decode_pe_id

__all__ = ["PreparedRun", "prepare_run", "compare_with_oracle", "activity_metrics"]


@dataclass(init=False, repr=False)
class PreparedRun:
    """A run's mapping, network, spec and inputs: input vectors ``xs`` (T, n_in) float32, or
    token ids ``tokens`` (T,) with the ``embedding`` the host looks them up in; then ``xs`` is
    looked up when first asked for and ``inputs(a, b)`` looks up steps a .. b-1 only (a long
    run priced window by window never holds all T input vectors)."""

    mapping: object
    network: object
    spec: object
    _xs: np.ndarray | None  # (T, n_in) float32 input vectors (None: looked up when asked for)
    tokens: np.ndarray | None  # (T,) token ids when the host looks them up
    _oracle: object
    embedding: np.ndarray | None

    def __init__(self, mapping, network, spec, xs=None, tokens=None, _oracle=None,
                 embedding=None, _xs=None, csr_checked=False):
        xs = _xs if xs is None else xs  # (dataclasses.replace passes the field, _xs)
        if xs is None and (tokens is None or embedding is None):
            raise ValueError("PreparedRun: give xs, or tokens and the embedding")
        self.mapping, self.network, self.spec = mapping, network, spec
        self._xs, self.tokens, self._oracle, self.embedding = xs, tokens, _oracle, embedding
        # prepare_run checked the layers' CSR against W and R (_prepared): not again this run
        self.csr_checked = csr_checked
        self.observe = None  # run_mapping's ``observe``: the analytic engine calls it per window
        self.tick_columns = None  # run_mapping's ``tick_columns`` (the analytic engine's ledger)

    @property
    def xs(self) -> np.ndarray:
        if self._xs is None:
            self._xs = np.ascontiguousarray(self.embedding[self.tokens], np.float32)
        return self._xs

    def inputs(self, a: int, b: int) -> np.ndarray:
        """Input vectors of steps a .. b-1."""
        if self._xs is not None:
            return self._xs[a:b]
        return np.ascontiguousarray(self.embedding[self.tokens[a:b]], np.float32)

    @property
    def n_steps(self) -> int:
        return int((self._xs if self._xs is not None else self.tokens).shape[0])

    def oracle(self):
        """The numpy reference run (models.egru.reference) on the same inputs, cached."""
        if self._oracle is None:
            trace = bool(self.network.readout.trace)
            if getattr(self.network, "quant", None) is not None:  # int8: the integer reference
                from s2sim.compiler.precision import oracle_trace

                self._oracle = oracle_trace(self.network, self.xs, trace=trace)
            else:
                self._oracle = self.network.stack.run(self.xs, trace=trace,
                                                      check_csr=not self.csr_checked)
        return self._oracle

    def oracle_tokens(self) -> np.ndarray | None:
        """With the decoder on the chip: each step's token as the on-chip decoder computes it
        from the oracle's top layer (``firmware_py.kinds.decoder.chip_decoder_tokens``)."""
        if not self.mapping.decoder_on_chip:
            return None
        from firmware_py.kinds.decoder import chip_decoder_tokens

        return chip_decoder_tokens(self.oracle().ys[-1], self.network.input.embedding,
                                   self.network.model.decoder_bias)

    def oracle_readout(self) -> np.ndarray | None:
        ro = self.network.readout
        if ro.weights is None:
            return None
        tr = self.oracle()
        y = tr.traces[-1] if ro.trace else tr.ys[-1]
        return (y @ ro.weights.T + ro.bias).astype(np.float32)


def _rows_finite(emb: np.ndarray, rows: np.ndarray, chunk: int = 4096) -> bool:
    """Whether the embedding rows ``rows`` hold only finite values: the rows the inputs use,
    not the whole table (a short run's few rows, not 25 M values per run), in chunks of rows so
    that a long run's temporary stays small."""
    return all(np.isfinite(emb[rows[i:i + chunk]]).all() for i in range(0, rows.size, chunk))


def prepare_run(mapping, inputs, network=None, oracle=None) -> PreparedRun:
    if network is not None:
        mapping.attach(network)
    net = mapping.network
    a = np.asarray(inputs)
    tokens = None
    if a.ndim == 1 and a.dtype.kind in "iu":
        if net.input.embedding is None:
            raise S2SimError(f"inputs: token ids given, but network {net.name!r} has no "
                             f"embedding; give input vectors of shape (T, {net.input.n_out})")
        V = net.input.embedding.shape[0]
        if a.size and (a.min() < 0 or a.max() >= V):
            raise S2SimError(f"inputs: token id out of range [0, {V})")
        tokens = a.astype(np.int64)
        emb = net.input.embedding
        if tokens.size == 0:
            raise S2SimError("inputs: no steps (T = 0)")
        if not _rows_finite(emb, np.unique(tokens)):
            raise S2SimError("inputs: contain NaN or infinity")
        return _prepared(mapping, net, tokens=tokens, _oracle=oracle, embedding=emb)
    if a.ndim == 2 and a.dtype.kind == "f":
        if a.shape[1] != net.input.n_out:
            raise S2SimError(f"inputs: shape {a.shape}, the network takes "
                             f"{net.input.n_out} inputs per step")
        xs = a.astype(np.float32)
    else:
        raise S2SimError(f"inputs: shape {a.shape} dtype {a.dtype}: give token ids (T,) int or "
                         f"input vectors (T, {net.input.n_out}) float32")
    if xs.shape[0] == 0:
        raise S2SimError("inputs: no steps (T = 0)")
    if mapping.decoder_on_chip and tokens is None:
        raise S2SimError("inputs: a mapping with the decoder on the chip takes token ids (the "
                         "chip looks up the embedding), not input vectors")
    if not np.all(np.isfinite(xs)):
        raise S2SimError("inputs: contain NaN or infinity")
    return _prepared(mapping, net, xs=np.ascontiguousarray(xs, np.float32), tokens=tokens,
                     _oracle=oracle)


def _prepared(mapping, net, **inputs) -> PreparedRun:
    """The run of checked inputs: the mapping validated against its spec, and, once per run,
    every layer's cached CSR checked against its W and R (rebuilt if they were edited in
    place; a pass over every weight). The run's users of the CSR (the oracle, the analytic
    windows, the DES cores: ``PreparedRun.csr_checked``) then skip that check: nothing edits
    the weights during a run."""
    spec = mapping.load_spec()
    mapping.validate(spec, net)
    for layer in net.layers:
        layer.refresh(check=True)
    return PreparedRun(mapping=mapping, network=net, spec=spec, csr_checked=True, **inputs)


def activity_metrics(run: PreparedRun, ys: list[np.ndarray], prev_ys=None):
    """events (T, L), input events (T,), sparsity per layer, effective MACs (T,), dense MACs.
    ``prev_ys``: per layer the outputs of the step before the first (a window of a long run;
    None: zeros, the run's start)."""
    net = run.network
    T = run.n_steps
    L = len(net.layers)
    events = np.zeros((T, L), np.int64)
    eff = np.zeros(T, np.int64)
    dense = 0
    for i, layer in enumerate(net.layers):
        st = net.stats(i)
        inp = run.xs if i == 0 else ys[i - 1]
        act_in = (inp != 0).astype(np.int64)
        prev = np.zeros_like(ys[i])
        prev[1:] = ys[i][:-1]
        if prev_ys is not None and len(prev):
            prev[0] = prev_ys[i]
        act_rec = (prev != 0).astype(np.int64)
        eff += act_in @ st.nnz_w_per_row + act_rec @ st.nnz_r_per_row
        events[:, i] = np.count_nonzero(ys[i], axis=1)
        dense += 3 * layer.hidden * (layer.n_in + layer.hidden)
    in_events = np.count_nonzero(run.xs, axis=1).astype(np.int64)
    sparsity = [1.0 - float(np.count_nonzero(y)) / y.size if y.size else 0.0 for y in ys]
    return events, in_events, sparsity, eff, dense


def compare_with_oracle(run: PreparedRun, result: RunResult, atol: float = 1e-5) -> None:
    """Fill ``result.mismatches``: event and value mismatches per layer vs the numpy oracle."""
    tr = run.oracle()
    mm = Mismatches(compared=True, atol=atol, late_packets=result.mismatches.late_packets)
    first = None
    for i, (a, b) in enumerate(zip(result.layer_outputs, tr.ys, strict=True)):
        fa, fb = a != 0, b != 0
        ev = fa != fb
        both = fa & fb
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        val = both & (diff > atol)
        n_ev = int(ev.sum())
        mm.per_layer_event_mismatches.append(n_ev)
        mm.event_mismatches += n_ev
        mm.value_mismatches += int(val.sum())
        if both.any():
            mm.max_abs_error = max(mm.max_abs_error, float(diff[both].max()))
        bad = ev | val
        if bad.any():
            t, u = np.argwhere(bad)[0]
            cand = (int(t), i, int(u))
            if first is None or cand < first:
                first = cand
    if result.readout is not None:
        ref = run.oracle_readout()
        if ref is not None:
            err = float(np.max(np.abs(result.readout.astype(np.float64) - ref))) if ref.size \
                else 0.0
            result.meta["readout_max_abs_error"] = err
    tokens = result.tokens
    if tokens is not None:
        ref = run.oracle_tokens()
        result.meta["decoder_token_mismatches"] = int(np.sum(tokens != ref))
        result.meta["decoder_tokens_missing"] = int(np.sum(tokens < 0))
    mm.first_mismatch = first
    mm.diverged_steps = 0 if first is None else run.n_steps - first[0]
    result.mismatches = mm


def route_geometry(mapping, spec) -> dict[str, int]:
    """NoC hops of one packet from each sender (slice id, "host", "to_host"), in the chip's NoC
    model: source QPE -> event router (XY) + one flit per destination QPE router -> QPE (XY)."""
    from s2sim.hw.noc import Mesh

    org = spec.organisation
    router = tuple(org.router_position.value)
    bridge = tuple(spec.host.bridge_qpe.value)
    mesh = Mesh([tuple(c) for c in org.qpe_coords.value] + [router, bridge])

    def qpe(pe):
        return decode_pe_id(pe)[:2]

    from firmware_py.keys import EMBED_SRC, SLICE_MASK, SLICE_SHIFT, SRC_SHIFT, TOKEN_SRC

    out: dict[str, int] = {}
    for r in mapping.routes:
        dest = {qpe(p) for p in r.pes}
        fan = sum(mesh.hops(router, q) for q in dest)
        src_id = (r.key >> SRC_SHIFT) & 0xFF
        for src in r.sources:
            origin = bridge if src == "host" else qpe(mapping.placement[src])
            name = src
            if src_id == TOKEN_SRC:  # the on-chip decoder's token routes: by block
                name = f"token:D.S{(r.key >> SLICE_SHIFT) & SLICE_MASK}"
            elif src_id == EMBED_SRC:  # ... and its embedding values, by sending block
                name = f"embed:{src}"
            out[name] = mesh.hops(origin, router) + fan
    out["to_host"] = mesh.hops(qpe(mapping.placement["readout"]), bridge)
    return out


def slice_events(mapping, ys: list[np.ndarray]) -> dict[str, np.ndarray]:
    """(T,) events sent per step by each EGRU slice."""
    egru = KINDS["egru"]
    return {s.id: egru.events_sent(s, ys) for s in mapping.slices if s.kind == "egru"}


def packets_and_hops(run: PreparedRun, in_events: np.ndarray, ys: list[np.ndarray]):
    """Per step: multicast packets on chip (host injections + input + EGRU events) and the NoC
    hops they and the step's readout message travel."""
    m = run.mapping
    geo = route_geometry(m, run.spec)
    if m.decoder_on_chip:
        from firmware_py.kinds.decoder import step_traffic

        tr = step_traffic(m, geo, run.tokens, in_events)
        pk = tr["front_packets"] + tr["best_packets"]
        hops = tr["front_hops"] + tr["best_hops"]
    else:
        host_pk = host_packets_per_step(run.xs)
        pk = host_pk.copy()  # host -> input PE
        hops = host_pk * geo.get("host", 0)
    inp = m.slice("input")
    if inp.key_base is not None:
        pk = pk + in_events
        hops = hops + in_events * geo.get("input", 0)
    for sid, ev in slice_events(m, ys).items():
        if m.slice(sid).key_base is not None:
            pk = pk + ev
            hops = hops + ev * geo.get(sid, 0)
    hops = hops + geo["to_host"]
    return pk.astype(np.int64), hops.astype(np.int64)


# per-PE totals every timed engine reports (RunResult.pe_counts)
PE_SUMMARY_FIELDS = ("active_cycles", "packets_sent", "packets_received", "cpu_macs",
                     "sram_read_bytes", "sram_written_bytes", "exp_calls", "active_ps",
                     "sleep_ps", "tick_overruns", "queue_full")


def pe_totals(pe: dict[str, np.ndarray], rows: list[int]) -> dict[str, np.ndarray]:
    """Totals over the run of the ledger's per-PE x per-tick fields, for the PEs at ``rows``."""
    return {k: pe[k][rows].sum(axis=1).astype(np.int64) for k in PE_SUMMARY_FIELDS}


def host_link(hw, spec, packets_to_chip: int, bytes_from_chip: int, chip_decoder: bool = False):
    """Fill the host-link traffic of ``hw`` (HostWork): host packets in, readout bytes out, and
    the time they take on the Ethernet link. ``chip_decoder``: the packets are tokens (a key and
    one 32-bit word), not four embedding values."""
    from firmware_py.kinds.input_source import HOST_PACKET_BYTES

    hw.packets_to_chip = int(packets_to_chip)
    per_packet = 8 if chip_decoder else HOST_PACKET_BYTES
    hw.bytes_to_chip = int(packets_to_chip) * per_packet
    hw.bytes_from_chip = int(bytes_from_chip)
    eth = float(spec.host.ethernet_bits_per_s.value)
    hw.link_time_ps = int(np.ceil((hw.bytes_to_chip + hw.bytes_from_chip) * 8 * 1e12 / eth))
    return hw
