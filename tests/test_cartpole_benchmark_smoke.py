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
