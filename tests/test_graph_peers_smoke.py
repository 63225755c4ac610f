"""Smoke test: `benchmarks/graph_peers.py --quick` trains every estimator and measures them on
shared weights; seqrl's leave-one-out estimator and storchastic's give the same gradients there."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_quick_graph_peers_benchmark(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    proc = subprocess.run([sys.executable, "benchmarks/graph_peers.py", "--quick", "--out",
                           str(tmp_path / "graph_peers.json")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((tmp_path / "graph_peers_quick.json").read_text())
    rows = {r["estimator"]: r for r in data["rows"]}
    assert len(rows) == 5 and all(r["steps"] > 0 and len(r["curve"]) == 2 for r in rows.values())
    assert all(-64 < r["test_elbo_early_stopped"] < 0 for r in rows.values())
    ours, theirs = rows["seqrl.graph (loo)"], rows["storchastic ScoreFunction (batch_average)"]
    for weights, variance in ours["encoder_grad_variance_shared"].items():  # the same estimator, the same samples
        assert variance == pytest.approx(theirs["encoder_grad_variance_shared"][weights], rel=1e-5)
    eight = rows["seqrl.graph (loo, 8 samples)"]["encoder_grad_variance_shared"]
    assert all(eight[w] < ours["encoder_grad_variance_shared"][w] for w in eight)
