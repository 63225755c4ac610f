"""The Pong benchmark's report: milestones and the target come from the curve (`--report-only`)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_report_only_rewrites_milestones_and_the_target_from_the_curve(tmp_path: Path) -> None:
    curve = [{"episodes": i + 1, "frames": 1000 * (i + 1), "seconds": 60.0 * (i + 1), "running_return": r, "return": r}
             for i, r in enumerate([-21.0, -14.0, -9.0, 1.0, 11.0])]
    res = {"config": "configs/pong.yaml", "overrides": ["optim.lr=0.001"], "budget_minutes": 5, "target": -10.0, "reached": None, "final": curve[-1],
           "best_running_return": 11.0, "episodes": 5, "frames": 5000, "train_seconds": 300.0, "frames_per_s": 16.7,
           "peak_rss_mib": 100.0, "greedy_validation": {"return_mean": 3.0, "episodes": 4},
           "machine": "test CPU (2 cores)", "date": "2026-12-05",
           "settings": {"env": {"kwargs": {}, "eval_kwargs": {"repeat_action_probability": 0.25}}}, "curve": curve}
    out = tmp_path / "pong.json"
    out.write_text(json.dumps(res))
    proc = subprocess.run([sys.executable, "benchmarks/pong_benchmark.py", "--report-only", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    new = json.loads(out.read_text())
    assert new["target"] == 10.0 and new["reached"]["episodes"] == 5
    assert new["milestones"]["-15"]["episodes"] == 2 and new["milestones"]["+0"]["episodes"] == 4
    assert new["milestones"]["+15"] is None
    md = out.with_suffix(".md").read_text()
    assert "`configs/pong.yaml` with `optim.lr=0.001` for 5 minutes" in md
    assert "| reached +10 |" in md and "yes, after 5 episodes" in md
    assert "-10 at 3 min (episode 3)" in md and "repeat_action_probability 0.25" in md
    assert out.with_suffix(".png").stat().st_size > 0
