"""The scripts in examples/ run end to end on a tiny budget and write a complete run directory."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, tmp_path: Path, *args: str) -> tuple[Path, str]:
    run_dir = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), "--quick", "--run-dir", str(run_dir), *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{name} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    for f in ("config.yaml", "metrics.jsonl", "eval.jsonl", "summary.jsonl"):
        assert (run_dir / f).is_file(), f"{name}: no {f} in the run directory"
    assert any((run_dir / "checkpoints").iterdir()), f"{name}: no checkpoint written"
    assert not (tmp_path / "runs").exists(), f"{name}: wrote outside --run-dir"
    return run_dir, proc.stdout


def test_train_reverse(tmp_path: Path):
    run_dir, out = run_example("train_reverse.py", tmp_path)
    assert "summary:" in out and "reloaded step 4" in out
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["optim"]["steps"] == 4


def test_train_reverse_steps_argument(tmp_path: Path):
    run_dir, out = run_example("train_reverse.py", tmp_path, "--steps", "3")
    assert "reloaded step 3" in out


def test_custom_reward(tmp_path: Path):
    run_dir, out = run_example("custom_reward.py", tmp_path)
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert cfg["task"]["reward"] == "custom_reward:prefix_reward"
    assert "prefix_reward for input '1 2 3 4': {'4 3 2 1': 1.0, '4 3 9 1': 0.5, '9 3 2 1': 0.0, '4 3 2 1 1': 0.8}" in out
    assert "mean prefix_reward of the samples" in out  # at least one REINFORCE step ran


def test_custom_reward_function_contract():
    sys.path.insert(0, str(EXAMPLES))
    try:
        from custom_reward import prefix_reward
    finally:
        sys.path.remove(str(EXAMPLES))
    assert prefix_reward([[5, 4], [4], []], [None] * 3, [[4, 5], [4, 5], []]) == [1.0, 0.0, None]


@pytest.mark.parametrize("extra", [(), ("--steps", "3")], ids=["quick", "steps"])
def test_digit_sum_from_scratch(tmp_path: Path, extra: tuple[str, ...]):
    run_dir, out = run_example("digit_sum_from_scratch.py", tmp_path, *extra)
    assert "has_reference=False" in out
    assert "held-out targets" in out and "training targets" in out
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["curriculum"]["kind"] == "reinforce"


def test_reinforce_vs_dqn_cartpole(tmp_path: Path):
    pytest.importorskip("gymnasium")
    run_dir, out = run_example("reinforce_vs_dqn_cartpole.py", tmp_path)
    assert "reinforce: step 3" in out and "dqn: step 3" in out
    assert (tmp_path / "run.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "run-dqn" / "eval.jsonl").is_file()


def test_discrete_vae_digits(tmp_path: Path):
    pytest.importorskip("sklearn")
    proc = subprocess.run([sys.executable, str(EXAMPLES / "discrete_vae_digits.py"), "--quick", "--run-dir",
                           str(tmp_path)], cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["baseline"]: r for r in __import__("json").loads((tmp_path / "results.json").read_text())}
    assert set(rows) == {"none", "ema", "loo", "learned"}
    assert all(-64 * 0.7 < r["heldout_elbo"] < 0 for r in rows.values())  # above a coin flip per pixel (-44 nats)
    assert rows["loo"]["encoder_grad_variance"] < rows["none"]["encoder_grad_variance"]


def _results(name: str, tmp_path: Path) -> list:
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), "--quick", "--run-dir", str(tmp_path)], cwd=tmp_path,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return __import__("json").loads((tmp_path / "results.json").read_text())


def test_lola_dice_ipd(tmp_path: Path):
    rows = _results("lola_dice_ipd.py", tmp_path)
    assert [r["lola"] for r in rows] == [True, False]
    for r in rows:  # the two agents' mean reward per round lies between mutual defection (-2) and cooperation (-1)
        assert len(r["reward_per_round"]) == 3 and all(-2.0 <= x <= -1.0 for x in r["reward_per_round"])
        assert all(0 < p < 1 for p in r["p_defect_agent1"])


def test_hard_attention_digits(tmp_path: Path):
    pytest.importorskip("sklearn")
    rows = _results("hard_attention_digits.py", tmp_path)
    assert [r["attention"] for r in rows] == ["hard (4 paths per canvas)", "soft"]
    assert all(0.0 <= r["test_accuracy"] <= 1.0 and r["steps"] == 10 for r in rows)
    assert all([c["step"] for c in r["curve"]] == [5, 10] for r in rows)


@pytest.mark.parametrize("name", ["discrete_vae_digits.py", "hard_attention_digits.py"])
def test_the_digit_examples_name_the_missing_extra_in_one_line(tmp_path: Path, name: str):
    """Without scikit-learn (hidden here): one line naming the [graph] extra, no traceback."""
    code = ("import runpy, sys; sys.modules['sklearn'] = None; sys.modules['sklearn.datasets'] = None; "
            f"sys.argv = [{name!r}, '--quick']; runpy.run_path({str(EXAMPLES / name)!r}, run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and '.[graph]' in proc.stderr and "scikit-learn" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
