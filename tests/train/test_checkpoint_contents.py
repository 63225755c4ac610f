"""Checkpoint contents are checked on load, whatever the checksum says: non-finite or absurd
values, an impossible replay buffer; a dangling link as the newest checkpoint falls back to the
one before it."""
from __future__ import annotations

import pytest

from seqrl.config import load_config
from seqrl.run.errors import CheckpointError
from seqrl.sources import make_trainer, resume
from seqrl.train import checkpoint as ckpt
from tests.conftest import tiny_config


def _rewrite(path, edit_tensors=None, edit_meta=None):
    """Re-save a checkpoint with edited contents and a checksum that matches them (a crafted file)."""
    tensors, meta = ckpt.load_checkpoint(path)
    if edit_tensors:
        edit_tensors(tensors)
    if edit_meta:
        edit_meta(meta)
    path.unlink()
    ckpt.save_checkpoint(path, tensors, meta)


@pytest.mark.parametrize("value,message", [(float("nan"), "has 1 non-finite"), (1e30, "holds a value of magnitude 1e\\+30")])
def test_a_crafted_weight_is_refused_and_the_previous_checkpoint_used(tmp_path, value, message, caplog):
    run = tmp_path / "run"
    make_trainer(tiny_config("optim.steps=4", "run.checkpoint_every=2"), run).fit()
    newest = ckpt.list_checkpoints(run / "checkpoints")[-1][1]

    def poison(t):
        name = next(k for k in t if k.startswith("policy.") and t[k].is_floating_point())
        t[name] = t[name].clone()
        t[name].view(-1)[0] = value

    _rewrite(newest, poison)
    with caplog.at_level("WARNING", logger="seqrl"):
        trainer = resume(run)
    assert trainer.state.step == 2 and "skipping a damaged checkpoint" in caplog.text
    with pytest.raises(CheckpointError, match=rf"policy\..* {message}"):
        trainer.load_file(newest)


def test_an_impossible_replay_buffer_is_refused(tmp_path):
    pytest.importorskip("gymnasium")
    cfg = load_config(None, ["env.id=CartPole-v1", "env.algo=dqn", "env.num_envs=2", "env.episodes_per_step=2",
                             "q.buffer_size=300", "q.learning_starts=10", "optim.batch_size=8", "optim.steps=2",
                             "run.checkpoint_every=2", "run.progress=false", "run.trackers=none", "run.threads=1"])
    run = tmp_path / "dqn"
    make_trainer(cfg, run).fit()
    path = ckpt.list_checkpoints(run / "checkpoints")[-1][1]

    def beyond(meta):
        meta["extra"]["buffer"]["pos"] = 305

    _rewrite(path, edit_meta=beyond)
    with pytest.raises(CheckpointError, match=r"replay buffer's count .* and position 305 are impossible"):
        resume(run)


def test_a_dangling_link_as_the_newest_checkpoint_falls_back(tmp_path, caplog):
    run = tmp_path / "run"
    make_trainer(tiny_config("optim.steps=4", "run.checkpoint_every=2"), run).fit()
    newest = ckpt.list_checkpoints(run / "checkpoints")[-1][1]
    newest.unlink()
    newest.symlink_to(tmp_path / "nowhere.safetensors")
    with caplog.at_level("WARNING", logger="seqrl"):
        trainer = resume(run)
    assert trainer.state.step == 2 and "points to nothing" in caplog.text
