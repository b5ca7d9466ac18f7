"""--decoder chip: the decoder's blocks in the compiler, and a run on both timed engines."""

import numpy as np
import pytest

from models.egru.paper import paper_shape_model, zipf_tokens
from s2sim.compiler.compile import compile_network
from s2sim.compiler.ir import Network
from s2sim.engine.run import run_mapping
from s2sim.errors import CompileError

KW = dict(vocab_size=600, embedding_dim=24, layers=(48, 24), activity=(0.4, 0.3))


@pytest.fixture(scope="module")
def net():
    m = paper_shape_model(seed=1, embedding_sparsity=0.9, **KW)
    return Network.from_lm(m, name="tiny-chip-decoder")


@pytest.fixture(scope="module")
def mapping(net):
    return compile_network(net, decoder="chip", tick_period_s=2e-3, sram_headroom_bytes=88000)


def test_blocks_cover_the_vocabulary_within_the_sram(net, mapping):
    blocks = mapping.decoder_slices()
    assert len(blocks) >= 2  # the headroom leaves ~6 KB a PE: the table needs several
    rows = np.concatenate([b.units for b in blocks])
    assert np.array_equal(np.sort(rows), np.arange(600))
    assert all(b.sram_bytes <= mapping.data_bytes_available for b in blocks)
    from firmware_py.kinds.base import align_up

    align = mapping.load_spec().memory.sram_alignment_bytes.value
    assert all(b.regions["values"] == align_up(2 * b.nnz_w, align) for b in blocks)  # float16
    assert mapping.decoder_on_chip and mapping.slice("readout").first_tick == 2 + 2 + 1
    assert mapping.pipeline_ticks == 4


def test_host_default_is_unchanged(net):
    m = compile_network(net, tick_period_s=2e-3)
    assert not m.decoder_on_chip and not m.decoder_slices() and "decoder" not in m.options


def test_des_matches_the_oracle_and_the_analytic_engine(net, mapping):
    tok = zipf_tokens(12, 600, seed=2)
    des = run_mapping(mapping, tok, engine="des")
    ana = run_mapping(mapping, tok, engine="analytic", compare=False)
    assert des.mismatches.event_mismatches == 0 and des.mismatches.value_mismatches == 0
    assert des.meta["decoder_token_mismatches"] == 0 and des.meta["decoder_tokens_missing"] == 0
    assert des.dropped_packets == 0 and des.tick_overruns == 0 and des.mismatches.late_packets == 0
    from s2sim.engine.common import prepare_run

    ref = prepare_run(mapping, tok).oracle_tokens()
    assert np.array_equal(des.tokens, ref)
    assert ana.energy_j == pytest.approx(des.energy_j, rel=2e-3)
    assert np.mean(ana.latency_ps) == pytest.approx(np.mean(des.latency_ps), rel=2e-3)
    assert des.host.decoder_macs == 0 and des.host.embedding_lookups == 0


def test_validate_refuses_a_tampered_block(net, mapping):
    bad = mapping.model_copy(deep=True)
    bad.slices[[s.kind for s in bad.slices].index("decoder")].units.append(0)
    bad._validated = None
    with pytest.raises(CompileError, match="decoder blocks must hold rows"):
        bad.validate(bad.load_spec(), net)


def test_a_network_without_a_tied_table_is_refused(net):
    plain = Network.from_layers(net.layers)
    with pytest.raises(CompileError, match="--decoder chip: .* no tied embedding"):
        compile_network(plain, decoder="chip", tick_period_s=2e-3)
    with pytest.raises(CompileError, match="decoder 'gpu'"):
        compile_network(net, decoder="gpu", tick_period_s=2e-3)
