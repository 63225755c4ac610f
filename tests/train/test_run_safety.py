"""One process per run directory, and graceful stops with reward workers (real processes)."""
import os
import signal
import subprocess
import sys
import time

import pytest

from seqrl.cli import main
from seqrl.train import checkpoint as ckpt
from seqrl.sources import resume
from tests.conftest import TINY

LONG = TINY + ["optim.steps=100000", "run.eval_every=100000", "curriculum.warmup_steps=2"]


def _start(run, *overrides, new_session=False):
    return subprocess.Popen([sys.executable, "-m", "seqrl", "train", *LONG, *overrides, "--run-dir", str(run)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=new_session)


def _wait_for(path, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline and not path.exists():
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    assert path.exists()


def _sigterm_when_stuck(proc, ready, settle):
    """Once `ready` exists and `settle` more seconds have passed (the run is stuck by then), one
    SIGTERM; returns (stderr, seconds from the signal to the exit)."""
    try:
        _wait_for(ready, proc)
        time.sleep(settle)
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        return err, time.monotonic() - began
    finally:
        proc.kill()


def _rows(path):
    return path.read_text().splitlines() if path.exists() else []


def test_a_second_process_on_a_run_directory_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    proc = _start(run, "run.checkpoint_every=2")
    try:
        _wait_for(run / "checkpoints" / "step-000000002.safetensors", proc)
        assert main(["train", "--resume", str(run)]) == 1
        assert f"in use by process {proc.pid}" in capsys.readouterr().err
        assert main(["train", *TINY, "--run-dir", str(run)]) == 1  # a new run into it: refused too
        assert f"in use by process {proc.pid}" in capsys.readouterr().err
        (run / ".lock").unlink()  # the lock is the directory's: deleting or replacing the file admits no one
        assert main(["train", "--resume", str(run)]) == 1
        assert f"in use by process {proc.pid}" in capsys.readouterr().err  # named from the kernel's lock table
        (run / ".lock").write_text("0 elsewhere\n")
        assert main(["train", "--resume", str(run)]) == 1
        steps = [int(line.split('"step": ')[1].split(",")[0]) for line in _rows(run / "metrics.jsonl")]
        assert steps == sorted(set(steps))  # one writer: no duplicated or out-of-order rows
    finally:
        proc.kill()
        proc.wait()
    resume(run).lock()  # the kernel dropped the dead holder's lock


@pytest.mark.parametrize("sig, group", [(signal.SIGINT, True), (signal.SIGTERM, False)])
def test_a_signal_with_reward_workers_stops_gracefully(tmp_path, sig, group):
    """Ctrl-C reaches the whole process group (workers included); SIGTERM only the trainer."""
    run = tmp_path / "run"
    proc = _start(run, "task.reward_workers=2", "run.checkpoint_every=100000", new_session=True)
    try:
        _wait_for(run / "metrics.jsonl", proc)
        while '"mode": "reinforce"' not in (run / "metrics.jsonl").read_text():  # workers are running
            time.sleep(0.05)
        os.killpg(proc.pid, sig) if group else proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    found = ckpt.list_checkpoints(run / "checkpoints")
    assert found and found[-1][0] > 2
    assert resume(run).state.step == found[-1][0]


def test_a_hanging_reward_worker_stops_the_run_with_the_step(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "seqrl", "train", *TINY, "curriculum.warmup_steps=4",
                           "run.checkpoint_every=2", "task.reward=tests.rewards.pool_rewards:hangs_on_seven",
                           "task.reward_workers=2", "task.reward_timeout=2", "--run-dir", str(run)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "step 4: did not return within task.reward_timeout=2 s; it was scoring samples" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert [s for s, _ in ckpt.list_checkpoints(run / "checkpoints")] == [2, 4]


def test_a_reward_module_that_fails_to_import_is_named(tmp_path, capsys):
    assert main(["train", *TINY, "task.reward=tests.rewards.broken_import:reward", "--run-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "task.reward: importing module 'tests.rewards.broken_import'" in err and "model file is missing" in err


def test_sigterm_is_not_held_up_by_a_stuck_reward_worker(tmp_path):
    """The reward hangs (no timeout configured); one SIGTERM still ends the run within the grace
    period, exit 130, keeping the last checkpoint."""
    run = tmp_path / "run"
    proc = _start(run, "task.reward=tests.rewards.pool_rewards:hangs_on_seven", "task.reward_workers=2",
                  "task.reward_timeout=0", "run.checkpoint_every=2")
    err, seconds = _sigterm_when_stuck(proc, run / "checkpoints" / "step-000000002.safetensors", 0.5)
    assert proc.returncode == 130, err
    assert seconds < 20 and "Traceback" not in err
    assert "interrupted (stopped while reward workers were still scoring); the last checkpoint is kept" in err
    assert [s for s, _ in ckpt.list_checkpoints(run / "checkpoints")] == [2]


@pytest.mark.parametrize("hang", ["reward", "environment"])
def test_the_first_sigterm_stops_a_run_stuck_in_user_code(tmp_path, hang):
    """A reward in the training process (no time limit) or an environment step (no time limit)
    hangs; the first SIGTERM stops the run within seconds, exit 130, the last checkpoint kept."""
    run = tmp_path / "run"
    if hang == "reward":
        proc = _start(run, "task.reward=tests.rewards.pool_rewards:hangs_on_seven", "task.reward_timeout=0",
                      "run.checkpoint_every=2")
        ready = run / "checkpoints" / "step-000000002.safetensors"
    else:
        code = ("import sys, tests.envs.test_env_runs; from seqrl.cli import main; sys.exit(main(sys.argv[1:]))")
        args = ["train", "env.id=Faulty-v0", "env.kwargs={mode: hang}", "env.num_envs=2", "env.episodes_per_step=6",
                "env.step_timeout=0", "run.progress=false", "run.trackers=none", "optim.steps=5", "--run-dir", str(run)]
        proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        ready = run / "config.yaml"
    err, seconds = _sigterm_when_stuck(proc, ready, 1.5)
    assert proc.returncode == 130, err
    assert seconds < 15 and "Traceback" not in err
    assert "stopped while an environment or a reward was still running" in err and "last checkpoint is kept" in err
