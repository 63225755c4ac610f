"""Smoke test: `benchmarks/demo_benchmark.py --quick` runs and writes the expected JSON and Markdown."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "demo_benchmark.py"


def _positive(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0


def test_quick_benchmark_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "x.json"
    # one torch thread: on a busy shared machine, oversubscribed OpenMP threads make timings explode
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--threads", "1", "--out", str(out)],
                          cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["mode"] == "quick"
    for key in ("environment", "config", "method", "sampling", "train_step", "memory", "time_to_target"):
        assert key in res, key
    env = res["environment"]
    for key in ("date", "torch_version", "torch_threads", "cpu_model"):
        assert env[key], key
    assert res["config"]["task"]["name"] == "reverse"
    init = res["sampling"]["init"]
    for name in ("sample_b32_k8", "sample_b128_k8", "greedy_b32", "greedy_b256"):
        assert _positive(init[name]["seq_per_s"]) and _positive(init[name]["tok_per_s"]), name
    assert init["sample_b32_k8"]["inputs"] == 32 and init["sample_b32_k8"]["k"] == 8
    assert init["sample_b128_k8"]["inputs"] == 128
    prof = res["train_step"]["profile"]
    assert _positive(prof["xent"]["median_s"]) and _positive(prof["reinforce"]["median_s"])
    assert {"sample", "reward", "backward"} <= set(prof["reinforce"]["share"])
    assert abs(sum(prof["reinforce"]["share"].values()) - 1.0) < 1e-6
    assert _positive(res["memory"]["throughput_only_peak_rss_mib"])
    assert res["time_to_target"] == {"skipped": True}
    assert "| Metric | Value |" in out.with_suffix(".md").read_text()
