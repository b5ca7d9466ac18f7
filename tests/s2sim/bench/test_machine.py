"""bench lm on a machine of chips (s2sim.bench.machine): the CLI path and its machine.json."""

import json

from s2sim.cli import main


def test_bench_lm_on_two_chips_writes_the_mapping_and_link_figures(tmp_path, capsys):
    out = tmp_path / "m"
    argv = ["bench", "lm", "--model", "paper", "--machine", "board48", "--chips", "2",
            "--engine", "des", "--tokens", "3", "--gpus", "a100", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "event mismatches vs the reference: 0" in text
    assert "chip link -> chip" in text and "energy by component" in text
    doc = json.loads((out / "machine.json").read_text())
    assert len(doc["mapping"]["chips_used"]) == 2
    assert doc["run"]["link_packets"] == doc["run"]["analytic_links"]["packets"] > 0
    assert doc["gpus"]
    assert main(argv[:9] + ["analytic"] + argv[10:]) == 0  # the folder is rewritten whole
    doc = json.loads((out / "machine.json").read_text())
    assert "run" not in doc and doc["analytic_links"]["packets"] > 0
