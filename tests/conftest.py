"""Shared fixtures: a tiny, fast configuration for end-to-end tests."""
from __future__ import annotations

import pytest
import torch

from seqrl.config import Config, load_config

TINY = [
    "task.train_max_len=4", "task.val_max_len=4", "task.val_size=32",
    "model.embed_dim=16", "model.hidden_dim=32",
    "reinforce.samples_per_input=4",
    "optim.batch_size=16", "optim.steps=24",
    "curriculum.warmup_steps=8",
    "run.log_every=1", "run.eval_every=8", "run.checkpoint_every=8", "run.progress=false",
    "run.eval_samples=2", "run.keep_checkpoints=10",
]


def tiny_config(*overrides: str) -> Config:
    return load_config(None, TINY + list(overrides))


@pytest.fixture(autouse=True)
def _single_thread():
    torch.set_num_threads(1)
    yield


# The suite's device rule: every test outside tests/gpu asserts CPU-exact behaviour (bit-exact
# resume, same seed same bits, numbers within CPU tolerances), so it runs on the CPU even where a
# GPU is visible: run.device=auto resolves to the CPU there, and child processes (the CLI,
# torchrun, benchmarks' smoke runs) see no GPU. tests/gpu runs the same machinery on CUDA.
_CUDA_DEVICES = torch.cuda.device_count() if torch.cuda.is_available() else 0  # read once, before hiding


@pytest.fixture(autouse=True)
def _cpu_outside_gpu_tests(request, monkeypatch):
    if "gpu" in request.node.nodeid.split("/")[:2] or not _CUDA_DEVICES:
        yield
        return
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    yield


def fit_until_interrupted(trainer, monkeypatch, at_step: int) -> None:
    """Run `trainer.fit()` as if the process died at the start of step `at_step`."""
    real_step = trainer.source.train_step

    def crash(step, state):
        if step == at_step:
            raise KeyboardInterrupt
        return real_step(step, state)

    monkeypatch.setattr(trainer.source, "train_step", crash)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    monkeypatch.setattr(trainer.source, "train_step", real_step)


def process_running(pid: int | str) -> bool:
    """Whether a process exists and is not a zombie (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


TIMING = {"step_time", "seq_per_s", "tok_per_s", "seconds"}


def logged_rows(run_dir, name: str = "metrics.jsonl") -> list[dict]:
    """A run's metrics (or eval) rows without wall-clock fields: what exact resume must reproduce."""
    from seqrl.run import jsonl

    return [{k: v for k, v in r.items() if k not in TIMING and not k.startswith("time_")}
            for r in jsonl.read(run_dir / name)]


def full_and_resumed(cfg: Config, tmp_path, monkeypatch, at_step: int):
    """An uninterrupted run of `cfg` (fitted, in tmp_path/full) and one interrupted at the start of
    `at_step` and resumed from its last checkpoint (not yet fitted again, in tmp_path/stopped)."""
    from seqrl.sources import make_trainer, resume

    full = make_trainer(cfg, tmp_path / "full")
    full.fit()
    stopped = make_trainer(cfg, tmp_path / "stopped")
    fit_until_interrupted(stopped, monkeypatch, at_step)
    return full, resume(tmp_path / "stopped")
