"""The core kinds, one module each; the compiler and the engines loop over ``KINDS``.

Adding a kind (an int8 slice, a LIF population) is one new module subclassing
``firmware_py.kinds.base.CoreKind`` plus one line here; the mapping's ``SliceInfo.kind`` names
the kind of each slice.
"""

from __future__ import annotations

from firmware_py.cost import CostModel
from firmware_py.kinds.base import AnalyticContext, BuildContext, CoreKind
from firmware_py.kinds.decoder import DecoderKind
from firmware_py.kinds.egru_slice import EGRUSliceKind
from firmware_py.kinds.input_source import InputSourceKind
from firmware_py.kinds.readout import ReadoutKind

__all__ = ["KINDS", "kind_of", "build_programs", "cost_model_for", "CoreKind", "BuildContext",
           "AnalyticContext"]

KINDS: dict[str, CoreKind] = {k.name: k for k in (InputSourceKind(), EGRUSliceKind(),
                                                  DecoderKind(), ReadoutKind())}


def kind_of(s) -> CoreKind:
    """The kind of slice ``s`` (a mapping's SliceInfo)."""
    return KINDS[s.kind]


def cost_model_for(mapping, spec) -> CostModel:
    """The cost model a mapping's programs run with (its weight-index width)."""
    return CostModel(spec, index_bytes=int(mapping.options.get("index_bits", 16)) // 8,
                     precision=str(mapping.options.get("precision", "fp32")))


def build_programs(mapping, network, spec, n_steps: int, csr_checked: bool = False):
    """(PE id -> Program, slice id -> Program) for a DES run of ``n_steps`` steps: each slice's
    program from its kind, a CompositeProgram where a PE holds several slices. ``csr_checked``:
    the caller has just checked the layers' CSR against W and R (not checked again)."""
    from firmware_py.composite import CompositeProgram

    ctx = BuildContext(mapping=mapping, network=network, spec=spec,
                       cost=cost_model_for(mapping, spec),
                       n_steps=n_steps, csr_checked=csr_checked)
    progs = {s.id: kind_of(s).program(ctx, s) for s in mapping.slices}
    out = {}
    for pe, sids in mapping.pe_slices().items():
        if len(sids) == 1:
            out[pe] = progs[sids[0]]
        else:
            out[pe] = CompositeProgram([(sid, progs[sid]) for sid in sids], ctx.cost)
    return out, progs
