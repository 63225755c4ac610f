"""The Pong benchmark's report: milestones and the target come from the curve (`--report-only`)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def result(returns: list[float], seed: int = 0, lr: float = 5e-4, greedy: float = 3.0) -> dict:
    """A results file of pong_benchmark.py, one curve point per episode, a minute apart."""
    curve = [{"episodes": i + 1, "frames": 1000 * (i + 1), "seconds": 60.0 * (i + 1), "running_return": r, "return": r}
             for i, r in enumerate(returns)]
    return {"config": "configs/pong.yaml", "overrides": ["optim.lr=0.001", f"run.seed={seed}"], "budget_minutes": 5,
            "target": -10.0, "reached": None, "final": curve[-1], "best_running_return": max(returns),
            "episodes": len(returns), "frames": 1000 * len(returns), "train_seconds": 300.0, "frames_per_s": 16.7,
            "peak_rss_mib": 100.0, "greedy_validation": {"return_mean": greedy, "episodes": 4},
            "machine": "test CPU (2 cores)", "date": "2026-12-05", "milestones": {},
            "settings": {"env": {"kwargs": {}, "eval_kwargs": {"repeat_action_probability": 0.25}},
                         "optim": {"lr": lr}, "run": {"seed": seed}}, "curve": curve}


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "benchmarks/pong_benchmark.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_report_only_rewrites_milestones_and_the_target_from_the_curve(tmp_path: Path) -> None:
    res = result([-21.0, -14.0, -9.0, 1.0, 11.0])
    out = tmp_path / "pong.json"
    out.write_text(json.dumps(res))
    proc = bench("--report-only", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    new = json.loads(out.read_text())
    assert new["target"] == 10.0 and new["reached"]["episodes"] == 5
    assert new["milestones"]["-15"]["episodes"] == 2 and new["milestones"]["+0"]["episodes"] == 4
    assert new["milestones"]["+15"] is None
    md = out.with_suffix(".md").read_text()
    assert "`configs/pong.yaml` with `optim.lr=0.001 run.seed=0` for 5 minutes" in md
    assert "| reached +10 |" in md and "yes, after 5 episodes" in md
    assert "-10 at 3 min (episode 3)" in md and "repeat_action_probability 0.25" in md
    assert out.with_suffix(".png").stat().st_size > 0


def runs(tmp_path: Path, *results: dict) -> list[str]:
    """Run pong_benchmark.py --report-only on each result (as the benchmark writes them); their paths."""
    paths = []
    for i, res in enumerate(results):
        path = tmp_path / f"seed{i}.json"
        path.write_text(json.dumps(res))
        assert bench("--report-only", "--out", str(path)).returncode == 0
        paths.append(str(path))
    return paths


def test_pool_reports_each_seed_and_the_median_and_range(tmp_path: Path) -> None:
    paths = runs(tmp_path, result([-21.0, 12.0, 12.0, 13.0, 11.0], seed=200, greedy=-1.0),
                 result([-21.0, -14.0, -9.0, 1.0, 2.0], seed=201, greedy=5.0),
                 result([-21.0, -10.0, 0.0, 10.0, 14.0], seed=202, greedy=2.0))
    out = tmp_path / "seeds.json"
    proc = bench("--pool", *paths, "--out", str(out), "--note", "Two at a time.")
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["seeds"] == [200, 201, 202] and res["overrides"] == ["optim.lr=0.001"]
    s = res["summary"]
    assert s["reached"] == 2 and s["minutes_to_target"] == {"median": 3.0, "min": 2.0, "max": 4.0}
    assert s["final_running_return"] == {"median": 11.0, "min": 2.0, "max": 14.0}
    assert s["greedy_return"] == {"median": 2.0, "min": -1.0, "max": 5.0}
    md = out.with_suffix(".md").read_text()
    assert "seeds 200, 201, 202. Two at a time." in md and "| 201 | +2.00 | +2.00 | no | +5.00 | 5 |" in md
    assert "reached +10 on 2/3, after 3 [2, 4] min" in md
    assert out.with_suffix(".png").stat().st_size > 0


def test_pool_refuses_other_settings_a_seed_twice_and_overwriting_an_input(tmp_path: Path) -> None:
    a, b = runs(tmp_path, result([-21.0, 11.0], seed=1), result([-21.0, 11.0], seed=2, lr=1e-3))
    proc = bench("--pool", a, b, "--out", str(tmp_path / "x.json"))
    assert proc.returncode != 0 and "differ in their settings (apart from run.seed)" in proc.stderr
    assert "Traceback" not in proc.stderr
    a, b = runs(tmp_path, result([-21.0, 11.0], seed=1), result([-21.0, 9.0], seed=1))
    proc = bench("--pool", a, b, "--out", str(tmp_path / "x.json"))
    assert proc.returncode != 0 and "a seed appears twice ([1, 1])" in proc.stderr
    proc = bench("--pool", a, b, "--out", a)
    assert proc.returncode != 0 and "is one of the --pool files" in proc.stderr
    proc = bench("--pool", str(tmp_path / "missing.json"), a, "--out", str(tmp_path / "x.json"))
    assert proc.returncode != 0 and "missing.json" in proc.stderr and "Traceback" not in proc.stderr
