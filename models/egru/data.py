"""Word-level WikiText-2 and Penn Treebank, read from the standard text files.

Tokenisation is the usual recipe (PyTorch word-language-model example, shared/data/README.md):
``line.split() + ['<eos>']`` for every line, the vocabulary built over train, valid and test in
order of first appearance. The files are found in a data directory given by ``--data DIR``, else
the environment variable ``S2SIM_DATA``, else ``<repo>/../shared/data``; every file's SHA-256 is
checked against the published value below before it is used. A missing or altered file raises a
one-line ``DataError`` naming the file and where it was looked for.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.egru.errors import DataError

__all__ = ["CORPORA", "Corpus", "find_data_dir", "load_corpus", "tokenize_lines", "sha256_file"]

ENV_VAR = "S2SIM_DATA"
EOS = "<eos>"

# name -> (sub folder, {split: (file name, sha256, tokens with <eos>)}, vocabulary size).
# Checksums: shared/data/SHA256SUMS; token counts and vocabulary sizes: shared/data/README.md.
CORPORA = {
    "wikitext-2": (
        "wikitext-2",
        {
            "train": ("train.txt",
                      "9e9fa1ad55b1c2c95b08e37dd8e653f638fac2c6de904b79e813611eefbc985f", 2088628),
            "valid": ("valid.txt",
                      "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8", 217646),
            "test": ("test.txt",
                     "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0", 245569),
        },
        33278,
    ),
    "ptb": (
        "ptb",
        {
            "train": ("ptb.train.txt",
                      "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf", 929589),
            "valid": ("ptb.valid.txt",
                      "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2", 73760),
            "test": ("ptb.test.txt",
                     "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0", 82430),
        },
        10000,
    ),
}
SPLITS = ("train", "valid", "test")


def _default_dir() -> Path:
    # models/egru/data.py -> repo root is two levels above models/
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def find_data_dir(data_dir: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The data directory and how it was chosen (``--data``, ``$S2SIM_DATA`` or default)."""
    if data_dir is not None:
        return Path(data_dir), "--data"
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env), f"${ENV_VAR}"
    return _default_dir(), "default ../shared/data"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tokenize_lines(lines) -> list[str]:
    words: list[str] = []
    for line in lines:
        words.extend(line.split())
        words.append(EOS)
    return words


@dataclass
class Corpus:
    """Token ids per split (int64 arrays) and the vocabulary in index order."""

    name: str
    vocab: list[str]
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    source_dir: Path

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def split(self, name: str) -> np.ndarray:
        return getattr(self, name)


def _checked_file(folder: Path, fname: str, digest: str, how: str, verify: bool) -> Path:
    path = folder / fname
    if not path.is_file():
        raise DataError(f"data file {fname} not found in {folder} (data dir from {how}; "
                        f"use --data DIR or ${ENV_VAR})")
    if verify:
        got = sha256_file(path)
        if got != digest:
            raise DataError(f"data file {path} is altered: sha256 {got[:16]}... does not match "
                            f"the published {digest[:16]}... (data dir from {how})")
    return path


def load_corpus(name: str, data_dir: str | os.PathLike | None = None,
                verify: bool = True) -> Corpus:
    """Load ``name`` ('ptb' or 'wikitext-2'), verifying checksums and token counts."""
    if name not in CORPORA:
        raise DataError(f"unknown corpus '{name}' (known: {', '.join(CORPORA)})")
    sub, files, vocab_size = CORPORA[name]
    root, how = find_data_dir(data_dir)
    folder = root / sub
    words = {}
    for split in SPLITS:
        fname, digest, n_tokens = files[split]
        path = _checked_file(folder, fname, digest, how, verify)
        with open(path, encoding="utf-8") as f:
            words[split] = tokenize_lines(f)
        if len(words[split]) != n_tokens:
            raise DataError(f"data file {path}: {len(words[split])} tokens, expected {n_tokens}")
    index: dict[str, int] = {}
    for split in SPLITS:
        for w in words[split]:
            if w not in index:
                index[w] = len(index)
    if len(index) != vocab_size:
        raise DataError(f"corpus {name} in {folder}: vocabulary {len(index)}, expected "
                        f"{vocab_size}")
    ids = {s: np.fromiter((index[w] for w in words[s]), np.int64, len(words[s]))
           for s in SPLITS}
    return Corpus(name=name, vocab=list(index), source_dir=folder, **ids)
