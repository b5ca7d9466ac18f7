"""models.egru.names: the one resolver of model names (small, paper[:seed=N], gesture, PATH)."""

from __future__ import annotations

import pytest

from models.egru.checkpoint import NAMED_CHECKPOINTS
from models.egru.errors import CheckpointError, S2SimError
from models.egru.names import (
    ModelRef,
    absolute_ref,
    accepted_names,
    portable_ref,
    resolve_model,
)


def test_shipped_names_resolve_to_their_files():
    small = resolve_model("small")
    assert small.kind == "checkpoint" and small.shipped and small.path.name == "egru_ptb_p95.npz"
    assert small.network_ref == "small"  # a mapping names a shipped model: found in any checkout
    gesture = resolve_model("gesture")
    assert gesture.kind == "gesture" and gesture.path.name == "gesture_egru.npz"


def test_paper_takes_its_seed_from_the_name_or_the_caller():
    assert resolve_model("paper", seed=4) == ModelRef("paper", "paper", seed=4)
    assert resolve_model("paper:seed=7", seed=4).seed == 7
    assert resolve_model("paper:seed=7").network_ref == "paper:seed=7"
    with pytest.raises(S2SimError, match="paper:seed=N"):
        resolve_model("paper:7")


def test_paths_and_mapping_refs(tmp_path):
    f = tmp_path / "m.npz"
    f.write_bytes(b"")
    assert resolve_model(str(f)) == ModelRef("checkpoint", "m", f)
    assert resolve_model(str(f), path_kind="gesture").kind == "gesture"
    assert resolve_model(f"gesture:{f}").kind == "gesture"
    assert resolve_model(f"checkpoint:{f}").path == f


def test_unknown_name_is_one_line_listing_the_accepted_names():
    with pytest.raises(CheckpointError) as exc:
        resolve_model("huge")
    msg = str(exc.value)
    assert "\n" not in msg and "'huge'" in msg and accepted_names() in msg
    for name in [*NAMED_CHECKPOINTS, "paper", "gesture"]:
        assert name in accepted_names()


def test_paper_with_embedding_sparsity_round_trips_its_network_ref():
    from models.egru.names import resolve_model

    ref = resolve_model("paper:seed=3,embedding_sparsity=0.95")
    assert (ref.seed, ref.embedding_sparsity) == (3, 0.95)
    assert ref.network_ref == "paper:seed=3,embedding_sparsity=0.95"
    assert resolve_model(ref.network_ref) == ref
    assert resolve_model("paper:seed=3").network_ref == "paper:seed=3"


@pytest.mark.parametrize("bad", ["paper:embedding_sparsity=0.9",
                                 "paper:seed=1,embedding_sparsity=1", "paper:seed=1,foo=2",
                                 "paper:seed=1,seed=2"])
def test_bad_paper_arguments_are_one_line_errors(bad):
    from models.egru.names import resolve_model

    with pytest.raises(S2SimError, match="paper:seed=N,embedding_sparsity=S"):
        resolve_model(bad)


def test_checkpoint_refs_are_stored_relative_where_the_folders_share_one(tmp_path):
    ck = tmp_path / "models" / "m.npz"
    runs = tmp_path / "runs" / "a"
    ref = f"checkpoint:{ck}"
    assert portable_ref(ref, runs) == "checkpoint:../../models/m.npz"
    assert absolute_ref(portable_ref(ref, runs), runs) == f"checkpoint:{ck.resolve()}"
    assert portable_ref(f"gesture:{runs / 'g.npz'}", runs) == "gesture:g.npz"
    # only "/" or a top-level folder in common: a relative path would break when either moves
    assert portable_ref("checkpoint:/elsewhere/m.npz", runs) == "checkpoint:/elsewhere/m.npz"
    for kept in ("small", "gesture", "paper:seed=3", None, "checkpoint:/x/m.npz"):
        assert absolute_ref(kept, runs) == kept
    assert portable_ref("paper:seed=3", runs) == "paper:seed=3"
