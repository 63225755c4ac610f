"""Small end-to-end runs learn: REINFORCE from scratch raises the reward."""
from seqrl.run import jsonl
from seqrl.sources import make_trainer
from tests.conftest import tiny_config


def test_reinforce_from_scratch_raises_reward(tmp_path):
    cfg = tiny_config("task.name=copy", "task.symbols=3", "task.train_max_len=3", "task.val_max_len=3",
                      "task.holdout=0.5", "task.val_size=8",
                      "curriculum.kind=reinforce", "optim.steps=150", "optim.rl_lr=3e-3",
                      "reinforce.samples_per_input=8", "run.eval_every=150", "run.checkpoint_every=150")
    make_trainer(cfg, tmp_path).fit()
    rewards = [r["reward_mean"] for r in jsonl.read(tmp_path / "metrics.jsonl")]
    first, last = sum(rewards[:10]) / 10, sum(rewards[-10:]) / 10
    assert last > first + 0.25, (first, last)


def test_warmup_then_rloo_improves_on_the_cross_entropy_model(tmp_path):
    cfg = tiny_config("optim.steps=240", "curriculum.warmup_steps=120", "model.hidden_dim=64",
                      "optim.rl_lr=1e-3", "run.eval_every=120", "run.checkpoint_every=240")
    make_trainer(cfg, tmp_path).fit()
    evals = {e["step"]: e["partial_credit"] for e in jsonl.read(tmp_path / "eval.jsonl")}
    rewards = [r["reward_mean"] for r in jsonl.read(tmp_path / "metrics.jsonl") if r["mode"] == "reinforce"]
    assert evals[240] > evals[120], evals
    assert sum(rewards[-20:]) > sum(rewards[:20])


def test_risk_over_samples_and_beam_raises_reward_from_scratch(tmp_path):
    """Minimum risk training over each input's 8 samples and 2 beam hypotheses learns the copy task."""
    cfg = tiny_config("task.name=copy", "task.symbols=3", "task.train_max_len=3", "task.val_max_len=3",
                      "task.holdout=0.5", "task.val_size=8",
                      "curriculum.kind=reinforce", "optim.steps=150", "optim.rl_lr=3e-3",
                      "reinforce.objective=risk", "reinforce.risk_candidates=both", "reinforce.risk_beam=2",
                      "reinforce.samples_per_input=8", "run.eval_every=150", "run.checkpoint_every=150")
    make_trainer(cfg, tmp_path).fit()
    rows = list(jsonl.read(tmp_path / "metrics.jsonl"))
    rewards = [r["reward_mean"] for r in rows]
    first, last = sum(rewards[:10]) / 10, sum(rewards[-10:]) / 10
    assert last > first + 0.25, (first, last)
    assert rows[-1]["risk"] < rows[0]["risk"]  # the expected cost under Q fell
