"""Corpus loading: standard token counts, checksum verification, one-line DataErrors."""

import os
import shutil
from pathlib import Path

import pytest

from models.egru.data import CORPORA, find_data_dir, load_corpus, tokenize_lines
from models.egru.errors import DataError

REPO = Path(__file__).resolve().parents[3]
DATA = Path(os.environ.get("S2SIM_DATA", REPO.parent / "shared" / "data"))
needs_ptb = pytest.mark.skipif(not (DATA / "ptb" / "ptb.train.txt").is_file(),
                               reason=f"PTB not found in {DATA}")
needs_wt2 = pytest.mark.skipif(not (DATA / "wikitext-2" / "train.txt").is_file(),
                               reason=f"WikiText-2 not found in {DATA}")


def test_tokenize_appends_eos_per_line():
    assert tokenize_lines(["a b\n", "\n", "c"]) == ["a", "b", "<eos>", "<eos>", "c", "<eos>"]


@needs_ptb
def test_ptb_token_counts_and_vocab():
    c = load_corpus("ptb", DATA)
    assert (len(c.train), len(c.valid), len(c.test)) == (929589, 73760, 82430)
    assert c.vocab_size == 10000
    assert c.vocab[int(c.train[c.train.argmax()])] == c.vocab[-1]
    assert "<eos>" in c.vocab and c.train.dtype.kind == "i"


@needs_wt2
def test_wikitext2_token_counts_and_vocab():
    c = load_corpus("wikitext-2", DATA)
    assert (len(c.train), len(c.valid), len(c.test)) == (2088628, 217646, 245569)
    assert c.vocab_size == 33278


def _copy_ptb(tmp_path):
    dst = tmp_path / "data" / "ptb"
    shutil.copytree(DATA / "ptb", dst)
    for p in dst.iterdir():
        p.chmod(0o644)
    return tmp_path / "data"


def test_missing_file_names_file_and_location(tmp_path):
    (tmp_path / "ptb").mkdir()
    with pytest.raises(DataError) as ei:
        load_corpus("ptb", tmp_path)
    msg = str(ei.value)
    assert "ptb.train.txt not found in" in msg and str(tmp_path / "ptb") in msg
    assert "--data" in msg and "\n" not in msg


def test_env_var_is_used_and_named(tmp_path, monkeypatch):
    monkeypatch.setenv("S2SIM_DATA", str(tmp_path))
    assert find_data_dir(None) == (tmp_path, "$S2SIM_DATA")
    with pytest.raises(DataError, match=r"not found in .* \(data dir from \$S2SIM_DATA"):
        load_corpus("ptb")


@needs_ptb
def test_altered_file_is_detected(tmp_path):
    root = _copy_ptb(tmp_path)
    p = root / "ptb" / "ptb.valid.txt"
    raw = bytearray(p.read_bytes())
    raw[100] = ord("X") if raw[100] != ord("X") else ord("Y")
    p.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"ptb.valid.txt is altered: sha256 .* does not match"):
        load_corpus("ptb", root)


def test_unknown_corpus():
    with pytest.raises(DataError, match="unknown corpus 'enwik8'"):
        load_corpus("enwik8")
    assert set(CORPORA) == {"ptb", "wikitext-2"}
