"""Smoke test: `benchmarks/cartpole_benchmark.py --quick` runs seqrl's REINFORCE and writes its report
(the SB3 runners need `pip install -e '.[bench]'`, which the suite does not require)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_quick_cartpole_benchmark(tmp_path: Path) -> None:
    pytest.importorskip("gymnasium")
    proc = subprocess.run([sys.executable, "benchmarks/cartpole_benchmark.py", "--quick", "--seeds", "1",
                           "--runners", "seqrl_reinforce", "--work", str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "cartpole.json").read_text())
    run = report["runs"]["seqrl_reinforce"][0]
    steps = [e["steps"] for e in run["episodes"]]
    assert steps == sorted(steps) and 0 < steps[-1] <= 300_000 // 20 + 2000
    assert 0 < run["greedy_return"] <= 500 and "| seqrl_reinforce |" in (tmp_path / "cartpole.md").read_text()


def _report(machine: str, seeds: list[int], steps: list[int | None]) -> dict:
    runs = [{"seed": s, "reached": {"steps": n, "seconds": n / 10_000} if n else None, "greedy_return": 500.0,
             "env_steps": n or 300_000, "episodes": [{"steps": n or 300_000, "seconds": 1.0, "mean100": 475.0}],
             "stopped_by": "threshold or budget"} for s, n in zip(seeds, steps)]
    return {"tuned_on": "seeds 0-24", "machine": machine, "isa": "avx2", "threshold": 475, "window": 100,
            "settings": {}, "date": "2026-12-05", "runs": {"seqrl_reinforce": runs, "sb3_ppo": runs[:1]}}


def test_pooled_reports_summarise_every_seed_and_refuse_mixed_machines(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import cartpole_benchmark as cb
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    a, b = _report("AMD EPYC (2 cores)", [200, 201], [100, 300]), _report("AMD EPYC (2 cores)", [205, 206], [200, 400])
    b["runs"].pop("sb3_ppo")  # a runner missing from one file is left out of the pool
    res = cb.pooled([a, b], ["a.json", "b.json"])
    assert res["seed_list"] == [200, 201, 205, 206] and list(res["runs"]) == ["seqrl_reinforce"]
    steps = res["summary"][0]["steps"]
    assert steps["median"] == 250 and (steps["min"], steps["max"]) == (100, 400)
    assert "4 seeds per runner (200, 201, 205, 206)" in cb.markdown(res)
    c = _report("AMD EPYC (2 cores)", [207], [None])  # a seed that did not reach: no median, as in one report
    assert cb.pooled([a, c], ["a", "c"])["summary"][0]["steps"]["median"] is None
    with pytest.raises(SystemExit, match="different machines"):
        cb.pooled([a, _report("Intel Xeon (2 cores)", [300], [100])], ["a", "x"])
    with pytest.raises(SystemExit, match="a seed appears twice"):
        cb.pooled([a, a], ["a", "a"])
    (tmp_path / "bad.json").write_text("{")
    proc = subprocess.run([sys.executable, "benchmarks/cartpole_benchmark.py", "--pool", str(tmp_path / "bad.json"),
                           "--out", str(tmp_path / "p.json")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "bad.json" in proc.stderr
