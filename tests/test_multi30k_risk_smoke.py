"""Smoke test: `benchmarks/multi30k_risk.py --quick` trains the start, risk, SCST and control over two seeds."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "multi30k"


def test_quick_multi30k_risk_benchmark(tmp_path: Path) -> None:
    if not (DATA / "train.de.gz").exists():
        pytest.skip(f"Multi30k is absent at {DATA} (the shared data is not beside the repository)")
    out = tmp_path / "r.json"
    for rows in ("risk", "scst,control"):  # as two processes would on two cores; the second reuses the start
        tuning = (["--set", "reinforce.xent_coef=0.5", "--tag", "t"] if rows == "risk"
                  else ["--set-control", "optim.lr=0.0003"])
        proc = subprocess.run([sys.executable, "benchmarks/multi30k_risk.py", "--quick", "--threads", "1",
                               "--start-threads", "1", "--seeds", "0,1", "--rows", rows, "--work",
                               str(tmp_path / "runs"), "--out", str(tmp_path / f"{rows}.json"), *tuning],
                              cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    assert "reusing" in proc.stdout and (tmp_path / "runs" / "cross-entropy" / "benchmark_eval.json").exists()
    proc = subprocess.run([sys.executable, "benchmarks/multi30k_risk.py", "--merge", str(tmp_path / "risk.json"),
                           str(tmp_path / "scst,control.json"), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert [(r["name"], r["seed"]) for r in res["rows"]] == [
        ("+ risk", 0), ("+ SCST", 0), ("+ cross-entropy (control)", 0),
        ("+ risk", 1), ("+ SCST", 1), ("+ cross-entropy (control)", 1)]
    for row in res["rows"]:
        assert f"run.seed={row['seed']}" in row["overrides"]
        assert "optim.steps=4" in row["overrides"]  # --quick trains a few steps, whatever the config says
        last = (Path(row["run_dir"]) / "metrics.jsonl").read_text().splitlines()[-1]
        assert json.loads(last)["step"] == 4
        assert 0.0 <= row["eval"]["test_beam"]["bleu"] <= 100.0 and row["eval"]["test_beam"]["size"] == 16
    risk_rows = [r for r in res["rows"] if r["name"] == "+ risk"]
    metrics = [json.loads(line) for line in (Path(risk_rows[0]["run_dir"]) / "metrics.jsonl").read_text().splitlines()]
    assert all("risk" in m for m in metrics)  # the risk objective trained, not REINFORCE
    assert all(m["reference_xent"] > 0 for m in metrics)  # with the --set cross-entropy term
    assert Path(risk_rows[0]["run_dir"]).name == "risk-t-seed0" and "reinforce.xent_coef=0.5" in risk_rows[0]["overrides"]
    assert "risk row `reinforce.xent_coef=0.5`" in (tmp_path / "risk.md").read_text()
    scst = [r for r in res["rows"] if r["name"] == "+ SCST"]
    metrics = [json.loads(line) for line in (Path(scst[0]["run_dir"]) / "metrics.jsonl").read_text().splitlines()]
    assert not any("risk" in m for m in metrics) and "reinforce.xent_coef=0.5" not in scst[0]["overrides"]
    assert Path(scst[0]["run_dir"]).name == "scst-seed0"
    controls = [r for r in res["rows"] if "control" in r["name"]]
    assert all("optim.lr=0.0003" in r["overrides"] for r in controls)  # --set-control reached the control only
    assert not any("optim.lr=0.0003" in r["overrides"] for r in risk_rows + scst)
    assert "control row `optim.lr=0.0003`" in out.with_suffix(".md").read_text()  # the merge keeps both kinds'
    assert "risk row `reinforce.xent_coef=0.5`" in out.with_suffix(".md").read_text()
    summary = {e["name"]: e for e in res["summary"]}
    gains = [r["eval"]["test_greedy"]["bleu"] - res["start"]["eval"]["test_greedy"]["bleu"] for r in risk_rows]
    assert summary["+ risk"]["test_greedy"]["gain_min"] == pytest.approx(min(gains))
    table = out.with_suffix(".md").read_text()
    assert "| + risk |" in table and "| + SCST |" in table and "| + cross-entropy (control) | 1 |" in table
    assert table.startswith("Multi30k De->En, sequence-level risk and SCST vs a cross-entropy control")


def test_a_bad_set_override_is_one_line_before_anything_trains(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "benchmarks/multi30k_risk.py", "--set", "reinforce.xent_cof=1", "--work",
                           str(tmp_path / "runs"), "--out", str(tmp_path / "r.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--set: unknown key 'reinforce.xent_cof'; did you mean 'reinforce.xent_coef'?" in proc.stderr
    assert not (tmp_path / "runs").exists()
    proc = subprocess.run([sys.executable, "benchmarks/multi30k_risk.py", "--set-control", "optim.lr=-1", "--work",
                           str(tmp_path / "runs"), "--out", str(tmp_path / "r.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "--set-control: " in proc.stderr
    assert "optim.lr" in proc.stderr and not (tmp_path / "runs").exists()
    for bad, said in (("optim.stepz=3", "--start-set: unknown key 'optim.stepz'; did you mean 'optim.steps'?"),
                      ("optim.steps", "--start-set: expected KEY=VALUE, got 'optim.steps'")):
        proc = subprocess.run([sys.executable, "benchmarks/multi30k_risk.py", "--start-set", bad, "--work",
                               str(tmp_path / "runs"), "--out", str(tmp_path / "r.json")],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr and said in proc.stderr
        assert not (tmp_path / "runs").exists()
    for rows, said in (("scst,rlo", "--rows: unknown row 'rlo'"),
                       ("risk,scst", "--rows: the rows train for different optim.steps (multi30k_risk 400, "
                                     "multi30k_scst 700); run them apart, or give --steps")):
        proc = subprocess.run([sys.executable, "benchmarks/multi30k_risk.py", "--rows", rows, "--work",
                               str(tmp_path / "runs"), "--out", str(tmp_path / "r.json")],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr and said in proc.stderr, proc.stderr
        assert not (tmp_path / "runs").exists()


def test_a_start_with_overrides_trains_in_its_own_directory() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import multi30k_risk
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    assert multi30k_risk.start_dir_name([]) == "cross-entropy"  # the Multi30k benchmark's start, reused
    assert multi30k_risk.start_dir_name(["optim.steps=6000"]) == "cross-entropy-optim.steps-6000"
    assert multi30k_risk.start_dir_name(["optim.steps=6000", "optim.lr=0.001"]) == (
        "cross-entropy-optim.steps-6000-optim.lr-0.001")
    assert "/" not in multi30k_risk.start_dir_name(["data.train=../x/y"])
