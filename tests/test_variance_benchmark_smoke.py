"""Smoke test: `benchmarks/variance_benchmark.py --quick` measures every source and baseline."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_quick_variance_benchmark(tmp_path: Path) -> None:
    pytest.importorskip("gymnasium")
    pytest.importorskip("sklearn")
    proc = subprocess.run([sys.executable, "benchmarks/variance_benchmark.py", "--quick", "--repeats", "3",
                           "--work", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads((tmp_path / "variance.json").read_text())["rows"]
    assert {r["source"] for r in rows} == {"reverse (GRU)", "CartPole-v1 (MLP)", "discrete VAE (digits)"}
    assert all(r["total_variance"] > 0 for r in rows)
    assert all(r["relative_to_none"] == 1.0 for r in rows if r["baseline"] == "none")
