"""``--precision fp32|int8``: the network an int8 deployment compiles and runs.

An int8 network (``quantised_network``) is the float network's LM quantised by
``models.egru.quant_lm`` (PTQ, or the recorded quantisation of a quantised checkpoint):

- its ``layers`` are the dequantised layers (so the compiler's nonzero counts are the int8
  matrices': a weight that rounds to 0 is not stored),
- its input embedding holds the int8 input codes (as float32, exact): the host looks them up and
  the input source sends them unchanged,
- ``quant`` is the integer stack (``models.egru.quant.QStack``): the int8 slices' weights and
  the engines' oracle (``oracle_trace``),
- ``model`` is the dequantised LMModel, whose float embedding the host's tied decoder reads.

The compiler prices it with the cost model's int8 mixes (``compile_network(precision="int8")``).
"""

from __future__ import annotations

import numpy as np

from s2sim.errors import CompileError

__all__ = ["PRECISIONS", "quantised_network", "network_for_precision", "oracle_trace",
           "check_precision"]

PRECISIONS = ("fp32", "int8")


def check_precision(precision: str, network) -> None:
    """One-line errors for a precision that does not fit the network."""
    if precision not in PRECISIONS:
        raise CompileError(f"--precision {precision}: choose fp32 or int8")
    quantised = getattr(network, "quant", None) is not None
    if precision == "int8" and not quantised:
        raise CompileError(f"--precision int8: network {network.name!r} is float32 and not a "
                           "quantised language model (int8 deploys an EGRU LM: PTQ or an int8 "
                           "checkpoint)")
    if precision == "fp32" and quantised:
        raise CompileError(f"--precision fp32: network {network.name!r} is int8-quantised; "
                           "compile it with --precision int8")


def quantised_network(net, calib_tokens=None):
    """The int8 network of an LM network (``Network.from_lm``); the input scale is calibrated
    on the embeddings of ``calib_tokens`` (training data) or, without them, on the whole
    embedding table; a quantised checkpoint keeps its recorded scale."""
    from models.egru.quant import quantise_input
    from models.egru.quant_lm import is_quantised, load_qlm, ptq
    from s2sim.compiler.ir import InputSource, Network, Readout

    model = getattr(net, "model", None)
    if model is None or net.input.embedding is None:
        raise CompileError(f"--precision int8: network {net.name!r} is not a language model "
                           "(int8 needs the LM's embedding to calibrate its input)")
    if is_quantised(model):
        q = load_qlm(model)
    else:
        calib = np.arange(model.vocab_size) if calib_tokens is None else calib_tokens
        q = ptq(model, calib)
    codes = quantise_input(model.embedding, q.x_scale).astype(np.float32)
    layers = list(q.model.stack.layers)
    out = Network(layers=layers, input=InputSource(n_out=layers[0].n_in, embedding=codes),
                  readout=Readout(n_in=layers[-1].hidden, host_decoder="tied"),
                  name=f"{net.name}-int8", ref=net.ref, model=q.model,
                  activity_hint=net.activity_hint)
    out.quant = q.qstack
    return out


def network_for_precision(net, precision: str, calib_tokens=None, decoder: str = "host"):
    """``net`` for ``--precision``: itself for fp32 (refusing a quantised model), the int8
    network for int8 (whose tied decoder runs on the host: ``--decoder chip`` is refused)."""
    from models.egru.quant_lm import is_quantised

    if precision == "fp32":
        if is_quantised(getattr(net, "model", None)):
            raise CompileError(f"--precision fp32: model {net.name!r} is an int8 checkpoint "
                               "(meta.quantisation); run it with --precision int8")
        return net
    if precision != "int8":
        raise CompileError(f"--precision {precision}: choose fp32 or int8")
    if decoder != "host":
        raise CompileError(f"--precision int8 --decoder {decoder}: the int8 deployment's tied "
                           "decoder runs on the host only (use --decoder host)")
    return net if getattr(net, "quant", None) is not None else quantised_network(net,
                                                                                calib_tokens)


def oracle_trace(network, xs: np.ndarray, trace: bool = False):
    """The integer reference's run of an int8 network as a ``StackTrace`` (real values)."""
    from models.egru.reference import EGRUStack, StackTrace

    tr = network.quant.run(np.rint(xs).astype(np.int64))
    ys = tr.real_ys()
    cs = [(c / (1 << 14)).astype(np.float32) for c in tr.cs]
    events = [np.count_nonzero(y, axis=1).astype(np.int64) for y in ys]
    trs = None
    if trace:
        d = EGRUStack.TRACE_DECAY
        trs = []
        for y in ys:
            out, st = np.zeros_like(y), np.zeros_like(y[0])
            for t in range(y.shape[0]):
                st = d * st + (np.float32(1) - d) * y[t]
                out[t] = st
            trs.append(out)
    return StackTrace(ys=ys, cs=cs, events=events, traces=trs,
                      input_events=np.count_nonzero(xs, axis=1).astype(np.int64))
