"""Smoke test: `benchmarks/atari_throughput.py --quick` measures the emulator and a short training run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ale_py", reason="the Atari emulator (pip install -e '.[envs]')")

ROOT = Path(__file__).resolve().parents[1]


def test_quick_throughput_writes_frames_per_second(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "atari_throughput.py"), "--quick", "--work",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((tmp_path / "atari_throughput.json").read_text())
    assert set(res["emulator"]) >= {"gymnasium sync", "gymnasium async"}
    assert all(fps > 0 for fps in res["emulator"].values())
    assert set(res["training"]) == {"sync"}
    assert all(t["frames"] > 0 and t["frames_per_s"] > 0 for t in res["training"].values())
    assert "| training, sync |" in (tmp_path / "atari_throughput.md").read_text()
