"""bench lm on a machine of chips (s2sim.bench.machine): the CLI path writes a bench folder of
the one report schema (report.json with its machine section, mapping.json), which s2sim report,
s2sim diff and assert_report_close read like a one-chip report."""

import pytest

from s2sim.cli import main
from s2sim.compiler.mapping import Mapping
from s2sim.report.io import load_report
from s2sim.testing import assert_report_close

ARGV = ["bench", "lm", "--model", "paper", "--machine", "board48", "--chips", "2", "--tokens",
        "3", "--gpus", "a100", "--quiet", "--no-plots"]


def _bench(out, engine="des", *extra):
    return main([*ARGV, "--engine", engine, "--out", str(out), *extra])


@pytest.fixture(scope="module")
def des_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("machine") / "des"
    assert _bench(out) == 0
    return out


def test_machine_des_report_carries_chips_links_energy_and_checks(des_folder):
    rep = load_report(des_folder)  # the one schema, validated
    w, s2, m = rep.workload, rep.s2, rep.machine
    assert w.kind == "lm" and w.engine == "des" and w.command[-4:] == [
        "--machine", "board48", "--chips", "2"]
    assert s2.energy_per_step_j > 0 and s2.latency_per_step_mean_s > 0
    assert s2.energy_by_component_j["chip_links"] > 0  # the links are their own component
    assert s2.energy_total_j == pytest.approx(sum(c.energy_j for c in m.chips))
    assert s2.event_mismatches == 0 and s2.value_mismatches == 0 and s2.dropped_packets == 0
    assert m.timed and m.chips_used == len(m.chips) == 2
    assert sum(c.pes for c in m.chips) == rep.deployment.pes_used
    assert all(c.energy_j > 0 and 0 < c.busy_fraction < 1 for c in m.chips)
    assert m.link_packets == m.link_packets_counted == sum(r.packets for r in m.links) > 0
    assert m.link_dropped == 0 and all(0 < r.utilisation < 1 and r.bits > 0 for r in m.links)
    assert rep.gpu and rep.ratios and rep.ratios[0].energy_gpu_over_s2 > 0
    assert len(rep.per_step) == 3 and rep.per_step[0].hops is None  # hops: per chip, not step
    mapping = Mapping.load(des_folder / "mapping.json")
    assert mapping.options["machine"] == "board48" and mapping.network_ref == "paper:seed=0"


def test_machine_report_is_deterministic_and_reads_like_any_report(des_folder, tmp_path,
                                                                   capsys):
    again = tmp_path / "again"
    assert _bench(again) == 0
    for f in ("report.json", "mapping.json", "per_step.csv", "gpu.csv"):
        assert (des_folder / f).read_bytes() == (again / f).read_bytes(), f
    assert_report_close(load_report(again), load_report(des_folder), rtol=0.0)
    capsys.readouterr()
    assert main(["report", str(again)]) == 0
    text = capsys.readouterr().out
    assert "machine:  board48, 2 of 48 chips used" in text and "0 link" in text
    assert main(["diff", str(des_folder), str(again)]) == 0
    assert "no metric changed" in capsys.readouterr().out


def test_machine_analytic_counts_links_and_says_mismatches_are_not_checked(des_folder,
                                                                          tmp_path, capsys):
    out = tmp_path / "analytic"
    assert _bench(out, "analytic") == 0
    rep = load_report(out)
    assert rep.s2 is None and not rep.machine.timed  # no per-chip time or energy
    assert "reference's own events" in rep.machine.mismatches_not_checked
    des = load_report(des_folder).machine
    assert rep.machine.link_packets == des.link_packets  # the same routes, the same events
    assert [(r.chip, r.packets) for r in rep.machine.links] == [
        (r.chip, r.packets) for r in des.links]
    assert all(r.dropped is None and r.utilisation is None for r in rep.machine.links)
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    assert "mismatches vs reference not checked" in capsys.readouterr().out


def test_one_chip_against_a_machine_compares_the_shared_metrics(des_folder, tmp_path, capsys):
    one = tmp_path / "one"
    # the same model and tick on one chip: the second chip's floor makes the machine dearer
    assert main(["bench", "lm", "--model", "paper", "--tokens", "3", "--engine", "des",
                 "--tick-s", "0.0025", "--gpus", "a100", "--quiet", "--no-plots", "--out",
                 str(one)]) == 0
    capsys.readouterr()
    assert main(["diff", str(one), str(des_folder)]) == 1
    text = capsys.readouterr().out
    assert "compared on the metrics both reports have" in text
    assert "s2.energy_per_step_j" in text and "machine.link_packets" not in text
    assert "missing from one report" not in text


def test_a_machine_mapping_is_refused_where_one_chip_is_expected(des_folder, tmp_path, capsys):
    m = str(des_folder / "mapping.json")
    capsys.readouterr()
    assert main(["bench", "lm", "--mapping", m, "--tokens", "3", "--quiet",
                 "--out", str(tmp_path / "b")]) == 2
    assert main(["run", m, "--tokens", "3", "--out", str(tmp_path / "r.json")]) == 2
    errs = capsys.readouterr().err.strip().splitlines()
    assert len(errs) == 2 and all("machine board48" in e for e in errs)
