"""Resume is exact: stop anywhere, resume, and end with the same bits as an uninterrupted run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from seqrl.run import jsonl
from seqrl.train import checkpoint as ckpt
from seqrl.sources import make_trainer, resume
from tests.conftest import logged_rows, TINY, fit_until_interrupted, process_running, tiny_config


VARIANTS = {
    "warmup-rloo": [],
    "mixer-value": ["curriculum.kind=mixer", "curriculum.mixer_every=4", "curriculum.mixer_delta=1",
                    "reinforce.baseline=value"],
    "alternate-ema-dropout": ["curriculum.kind=alternate", "curriculum.warmup_steps=2", "curriculum.span=10",
                              "reinforce.baseline=ema", "model.dropout=0.2"],
    "transformer-grpo": ["model.kind=transformer", "model.hidden_dim=32", "model.heads=2", "model.ff_dim=64",
                         "reinforce.baseline=grpo"],
    "risk-both": ["reinforce.objective=risk", "reinforce.risk_candidates=both", "reinforce.risk_beam=2",
                  "reinforce.risk_alpha=0.5"],
}


_metrics = logged_rows


def _weights(trainer):
    return {k: v.clone() for k, v in trainer.source.policy.state_dict().items()}


def _same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_resume_equals_uninterrupted_run(tmp_path, variant, monkeypatch):
    cfg = tiny_config(*VARIANTS[variant])
    full = make_trainer(cfg, tmp_path / "full")
    full.fit()

    stopped = make_trainer(cfg, tmp_path / "stopped")
    fit_until_interrupted(stopped, monkeypatch, 13)  # after the step-8 checkpoint, mid-schedule
    assert ckpt.list_checkpoints(stopped.checkpoint_dir)[-1][0] == 8
    assert len(_metrics(tmp_path / "stopped")) == 13  # logged past the checkpoint: must be cut back

    resumed = resume(tmp_path / "stopped")
    assert resumed.state.step == 8
    resumed.fit()
    assert _same_weights(_weights(full), _weights(resumed))
    assert _metrics(tmp_path / "full") == _metrics(tmp_path / "stopped")
    assert _metrics(tmp_path / "full", "eval.jsonl") == _metrics(tmp_path / "stopped", "eval.jsonl")
    seconds = [r["seconds"] for r in jsonl.read(tmp_path / "stopped" / "eval.jsonl")]
    assert seconds == sorted(seconds) and seconds[0] > 0  # training time carries over the resume


def test_same_seed_same_bits_other_seed_other_bits(tmp_path):
    a = make_trainer(tiny_config("optim.steps=12"), tmp_path / "a")
    a.fit()
    b = make_trainer(tiny_config("optim.steps=12"), tmp_path / "b")
    b.fit()
    c = make_trainer(tiny_config("optim.steps=12", "run.seed=1"), tmp_path / "c")
    c.fit()
    assert _same_weights(_weights(a), _weights(b))
    assert _metrics(tmp_path / "a") == _metrics(tmp_path / "b")
    assert not _same_weights(_weights(a), _weights(c))


@pytest.mark.parametrize("workers", [0, 2])
def test_killed_process_leaves_loadable_checkpoint_and_resumes_exactly(tmp_path, workers):
    """SIGKILL a real training process at an arbitrary moment (with reward workers: while they
    score a REINFORCE step); the run still resumes exactly, and no worker outlives the kill."""
    overrides = TINY + ["optim.steps=40", "run.checkpoint_every=2", "run.eval_every=10",
                        f"task.reward_workers={workers}"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    run = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "seqrl", "train", *overrides, "--run-dir", str(run)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    wanted = 6 if workers else 2  # TINY's REINFORCE starts at step 8
    while time.time() < deadline and len(ckpt.list_checkpoints(run / "checkpoints")) < wanted:
        time.sleep(0.05)
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) >= (workers + 1 if workers else 0), children  # the workers and the resource tracker
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.list_checkpoints(run / "checkpoints"), "no checkpoint was written before the kill"
    resumed = resume(run)
    assert resumed.state.step < 40
    resumed.fit()
    from seqrl.config import load_config
    full = make_trainer(load_config(None, overrides), tmp_path / "full")
    full.fit()
    assert _same_weights(_weights(full), _weights(resumed))
    assert _metrics(tmp_path / "full") == _metrics(run)
    deadline = time.time() + 10
    while time.time() < deadline and any(process_running(pid) for pid in children):
        time.sleep(0.1)
    assert not [pid for pid in children if process_running(pid)]


def test_sigint_checkpoints_between_steps(tmp_path):
    overrides = TINY + ["optim.steps=100000", "run.checkpoint_every=100000", "run.eval_every=100000"]
    run = tmp_path / "int"
    proc = subprocess.Popen([sys.executable, "-m", "seqrl", "train", *overrides, "--run-dir", str(run)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "metrics.jsonl").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    found = ckpt.list_checkpoints(run / "checkpoints")
    assert found and found[-1][0] > 0
    assert resume(run).state.step == found[-1][0]
    assert f"interrupted at step {found[-1][0]}; saved {found[-1][1]}" in err.decode()  # which step it wrote
