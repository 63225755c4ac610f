"""run.init_from: a new run starts from another run's weights (file or run directory)."""
import pytest
import torch

from seqrl.config import ConfigError
from seqrl.train import checkpoint as ckpt
from seqrl.sources import make_trainer, resume
from seqrl.train.trainer import Trainer
from tests.conftest import tiny_config


def _weights_equal(a: Trainer, b: Trainer) -> bool:
    x, y = a.source.policy.state_dict(), b.source.policy.state_dict()
    return all(torch.equal(x[k], y[k]) for k in x)


def test_init_from_checkpoint_file_copies_weights_and_starts_fresh(tmp_path):
    first = make_trainer(tiny_config("curriculum.kind=xent"), tmp_path / "first")
    first.fit()
    latest = sorted((tmp_path / "first" / "checkpoints").glob("step-*.safetensors"))[-1]
    second = make_trainer(tiny_config("curriculum.kind=reinforce", f"run.init_from={latest}"), tmp_path / "second")
    assert _weights_equal(first, second)
    assert second.state.step == 0 and not second.source.optimizer.state  # fresh optimizer and counters
    second.fit()
    assert not _weights_equal(first, second)
    resumed = resume(tmp_path / "second")  # resume reads its own checkpoint, not init_from
    assert _weights_equal(second, resumed)


def test_best_checkpoint_is_kept_outside_pruning(tmp_path):
    run = make_trainer(tiny_config("run.keep_checkpoints=1", "optim.steps=32"), tmp_path / "run")
    run.fit()
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert names == ["best.safetensors", "step-000000032.safetensors"]
    best = resume(tmp_path / "run")
    assert best.load_file(tmp_path / "run" / "checkpoints" / "best.safetensors") == run.state.best_step


def test_init_from_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="run.init_from: .*neither a checkpoint file nor a run directory"):
        make_trainer(tiny_config(f"run.init_from={tmp_path / 'nowhere'}"), tmp_path / "a")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="run.init_from: .*has no checkpoint"):
        make_trainer(tiny_config(f"run.init_from={tmp_path / 'empty'}"), tmp_path / "b")
    make_trainer(tiny_config("optim.steps=8"), tmp_path / "small").fit()
    with pytest.raises(ConfigError, match="run.init_from: cannot start from .*do not fit .*size mismatch for network"):
        make_trainer(tiny_config("model.hidden_dim=48", f"run.init_from={tmp_path / 'small'}"), tmp_path / "c")


def test_time_limit_stops_with_a_checkpoint(tmp_path):
    run = make_trainer(tiny_config("optim.steps=100000", "run.time_limit=0.5", "run.checkpoint_every=100000"),
                  tmp_path / "run")
    summary = run.fit()
    assert 0 < summary["step"] < 100000 and run.state.seconds >= 0.5
    steps = [s for s, _ in ckpt.list_checkpoints(run.checkpoint_dir)]
    assert steps == [summary["step"]]
    again = resume(tmp_path / "run")
    assert again.fit()["step"] == summary["step"]  # already out of time: no more steps
