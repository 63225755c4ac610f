"""Bad rewards stop training with a clear error and keep the last good checkpoint, or are skipped."""
import pytest
import torch

from seqrl.rewards.checked import RewardError
from seqrl.run import jsonl
from seqrl.train import checkpoint as ckpt
from seqrl.sequences.step import TrainingError
from seqrl.sources import make_trainer, resume
from tests.conftest import tiny_config
from tests.train import bad_rewards

# warm-up 8 steps of cross-entropy, then REINFORCE: reward calls 1, 2, 3 happen at steps 8, 9, 10
BASE = ["run.checkpoint_every=4", "curriculum.warmup_steps=8"]


@pytest.fixture(autouse=True)
def _reset():
    bad_rewards.CALLS["n"] = 0


def test_nan_reward_names_step_and_sample_and_keeps_checkpoint(tmp_path):
    trainer = make_trainer(tiny_config(*BASE, "task.reward=tests.train.bad_rewards:nan_on_third_call"), tmp_path)
    with pytest.raises(RewardError) as err:
        trainer.fit()
    msg = str(err.value)
    assert "step 10" in msg and "sample 5" in msg and "nan" in msg.lower()
    found = ckpt.list_checkpoints(tmp_path / "checkpoints")
    assert [s for s, _ in found] == [4, 8]
    assert resume(tmp_path).state.step == 8  # the last good checkpoint loads


def test_raising_reward_is_blamed_on_a_sample(tmp_path):
    trainer = make_trainer(tiny_config(*BASE, "task.reward=tests.train.bad_rewards:raises_on_third_call"), tmp_path)
    with pytest.raises(RewardError) as err:
        trainer.fit()
    assert "step 10" in str(err.value) and "ZeroDivisionError" in str(err.value)


def test_skip_mode_counts_bad_samples_and_keeps_training(tmp_path):
    cfg = tiny_config(*BASE, "task.reward=tests.train.bad_rewards:nan_on_third_call", "run.on_bad_reward=skip")
    trainer = make_trainer(cfg, tmp_path)
    trainer.fit()
    skipped = [r["skipped"] for r in jsonl.read(tmp_path / "metrics.jsonl") if r["mode"] == "reinforce"]
    assert sum(skipped) == trainer.state.skipped_rewards == 24 - 10
    assert trainer.state.step == 24


def test_none_rewards_are_excluded_not_errors(tmp_path):
    trainer = make_trainer(tiny_config(*BASE, "task.reward=tests.train.bad_rewards:none_for_odd"), tmp_path)
    trainer.fit()
    assert trainer.state.skipped_rewards == 0


def test_wrong_length_reward_is_an_error(tmp_path):
    trainer = make_trainer(tiny_config(*BASE, "task.reward=tests.train.bad_rewards:wrong_length"), tmp_path)
    with pytest.raises(RewardError, match="64"):
        trainer.fit()


def test_non_finite_loss_stops_with_step(tmp_path):
    trainer = make_trainer(tiny_config(*BASE), tmp_path)
    with torch.no_grad():
        trainer.source.policy.network.out.weight.fill_(float("nan"))
    with pytest.raises(TrainingError, match="step 0: sample 0 .*non-finite"):
        trainer.fit()
    assert ckpt.list_checkpoints(tmp_path / "checkpoints") == []


def test_unknown_reward_module_is_a_config_error(tmp_path):
    from seqrl.config import ConfigError
    with pytest.raises(ConfigError, match="task.reward"):
        make_trainer(tiny_config("task.reward=no_such_module_xyz:f"), tmp_path)


def test_non_finite_policy_in_reinforce_step_names_the_step(tmp_path):
    trainer = make_trainer(tiny_config(*BASE, "curriculum.kind=reinforce"), tmp_path)
    with torch.no_grad():
        trainer.source.policy.network.out.bias[5] = float("inf")
    with pytest.raises(TrainingError, match="step 0: sampling failed"):
        trainer.fit()


def test_python_callable_reward_replaces_the_configured_one(tmp_path):
    calls = []

    def reward(completions, references, sources, **columns):
        calls.append(len(completions))
        return [float(len(c) == 0) for c in completions]  # reward empty outputs only

    trainer = make_trainer(tiny_config(*BASE), tmp_path, reward_fn=reward)
    trainer.fit()
    assert calls and all(n == 16 * 4 for n in calls)
    used = resume(tmp_path, reward_fn=reward).source.reward_fn
    assert getattr(used, "fn", used) is reward  # under the default 300 s in-process time limit


def test_an_in_process_reward_is_timed_by_default(tmp_path):
    """task.reward_timeout=null limits a reward in the training process as it limits workers (300 s);
    0 turns the limit off."""
    from seqrl.rewards.deadline import TimedReward
    from seqrl.sequences.build import POOL_TIMEOUT, build_task, training_reward

    cfg = tiny_config()
    _, fn, pools = training_reward(cfg, build_task(cfg))
    assert isinstance(fn, TimedReward) and fn.seconds == POOL_TIMEOUT == 300.0 and not pools
    off = tiny_config("task.reward_timeout=0")
    _, fn, _ = training_reward(off, build_task(off))
    assert not isinstance(fn, TimedReward)
