"""The evaluation command on the shipped checkpoints (first test tokens only)."""

import json
import os
from pathlib import Path

import pytest

from models.egru.checkpoint import CHECKPOINT_DIR
from models.egru.evaluate import main

DATA = Path(os.environ.get("S2SIM_DATA", Path(__file__).resolve().parents[3].parent / "shared"
                           / "data"))
pytestmark = pytest.mark.skipif(not (DATA / "ptb" / "ptb.test.txt").is_file(),
                                reason=f"PTB not found in {DATA}")


@pytest.mark.parametrize("model", ["small", str(CHECKPOINT_DIR / "baselines" / "lstm_ptb.npz")])
def test_evaluate_shipped(model, capsys):
    if model != "small" and not Path(model).is_file():
        pytest.skip("LSTM baseline not shipped")
    assert main(["--model", model, "--tokens", "300", "--data", str(DATA)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["test_tokens"] == 299
    assert 20 < out["test_ppl"] < 2000  # a trained model: far below the 10,000 of chance


def test_evaluate_unknown_model(capsys):
    assert main(["--model", "nope"]) == 2
    assert "model 'nope': no such file or model name" in capsys.readouterr().err
