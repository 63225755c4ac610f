"""Smoke test: `benchmarks/configs_benchmark.py --quick` trains example configs and writes its table."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_configs_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    proc = subprocess.run([sys.executable, "benchmarks/configs_benchmark.py", "--quick", "--only", "reverse,digit_sum",
                           "--work", str(tmp_path / "runs"), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert [(r["name"], r["metric"]) for r in res["rows"]] == [("reverse", "exact_match"), ("digit_sum", "success_rate")]
    for r in res["rows"]:
        assert 0.0 <= r["final"] <= r["best"] <= 1.0 and r["final_step"] == 4 and r["wall_s"] > 0
    assert "| `digit_sum.yaml` |" in out.with_suffix(".md").read_text()


def test_an_unknown_config_is_one_line_naming_the_choices(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "benchmarks/configs_benchmark.py", "--only", "revers", "--out",
                           str(tmp_path / "c.json")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--only: unknown config 'revers'" in proc.stderr and "Traceback" not in proc.stderr
