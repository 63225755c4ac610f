"""One training step under each plan: what is trained by which loss."""
import pytest
import torch

from seqrl.curriculum import StepPlan
from seqrl.tasks import collate
from seqrl.sequences.step import train_step
from seqrl.sources import make_trainer, resume
from tests.conftest import tiny_config


def _step(tmp_path, plan, *overrides):
    trainer = make_trainer(tiny_config(*overrides), tmp_path)
    examples = trainer.source.data.train_batch(0, 16)
    return train_step(trainer.source.ctx, examples, collate(examples), plan, 0, trainer.state), trainer


def test_cross_entropy_step_trains_no_reinforce_tokens(tmp_path):
    m, _ = _step(tmp_path, StepPlan(False, 0))
    assert m["mode"] == "xent" and m["reinforce_share"] == 0.0 and m["xent"] > 0


def test_mixer_step_splits_tokens_between_losses(tmp_path):
    m, trainer = _step(tmp_path, StepPlan(True, 2))
    assert m["prefix"] == 2 and 0.0 < m["reinforce_share"] < 1.0 and m["xent"] > 0
    assert trainer.state.sequences == 16 * 4


@pytest.mark.parametrize("baseline", ["none", "ema", "value", "self_critical", "rloo", "grpo"])
def test_every_baseline_runs_a_reinforce_step(tmp_path, baseline):
    m, trainer = _step(tmp_path, StepPlan(True, 0), f"reinforce.baseline={baseline}", "reinforce.entropy_coef=0.01")
    assert m["mode"] == "reinforce" and m["reinforce_share"] == 1.0 and m["grad_norm"] > 0
    assert 0.0 <= m["finished"] <= 1.0
    assert m["baseline_error"] is not None and m["baseline_error"] >= 0
    if baseline == "ema":
        assert trainer.state.ema_initialised and trainer.state.ema == pytest.approx(m["reward_mean"])


def test_per_token_rewards_with_discount(tmp_path):
    m, _ = _step(tmp_path, StepPlan(True, 0), "task.per_token=true", "task.gamma=0.9", "reinforce.baseline=value")
    assert m["reward_mean"] is not None and m["grad_norm"] > 0


@pytest.mark.parametrize("scoring", ["sampling", "teacher"])
def test_mixer_anchored_at_the_end_samples_the_last_tokens_of_every_reference(tmp_path, monkeypatch, scoring):
    trainer = make_trainer(tiny_config(f"reinforce.scoring={scoring}"), tmp_path)
    examples = trainer.source.data.train_batch(0, 16)
    batch = collate(examples)
    seen = {}
    method = "sample_scored" if scoring == "sampling" else "sample"
    real = getattr(trainer.source.policy, method)

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        seen["rollout"] = out[0] if scoring == "sampling" else out
        return out

    monkeypatch.setattr(trainer.source.policy, method, spy)
    m = train_step(trainer.source.ctx, examples, batch, StepPlan(True, 0, 2), 0, trainer.state)
    rollout = seen["rollout"]
    lengths = batch.tgt_mask.sum(dim=1).repeat_interleave(rollout.k)  # reference lengths, EOS included
    forced = rollout.forced.sum(dim=1)
    assert forced.tolist() == (lengths - 2).clamp(min=0).tolist()
    for row, n in enumerate(forced.tolist()):  # the forced tokens are the reference's
        assert rollout.tokens[row, :n].tolist() == batch.tgt[row // rollout.k, :n].tolist()
    assert m["suffix"] == 2 and 0.0 < m["reinforce_share"] < 1.0


@pytest.mark.parametrize("estimator", ["k1", "k3"])
def test_kl_penalty_is_zero_at_the_start_and_grows_as_the_policy_moves(tmp_path, estimator):
    trainer = make_trainer(tiny_config("reinforce.kl_coef=0.1", f"reinforce.kl_estimator={estimator}",
                                  "curriculum.kind=reinforce", "optim.rl_lr=0.01"), tmp_path)
    kls = []
    for step in range(6):
        examples = trainer.source.data.train_batch(step, 16)
        m = train_step(trainer.source.ctx, examples, collate(examples), StepPlan(True, 0), step, trainer.state)
        kls.append(m["kl"])
    assert abs(kls[0]) < 1e-6  # the reference is the initial policy
    assert kls[-1] > 1e-4  # the policy moved away from it


def test_kl_reference_survives_resume_exactly(tmp_path, monkeypatch):
    from tests.conftest import fit_until_interrupted

    cfg = tiny_config("reinforce.kl_coef=0.05", "reinforce.kl_estimator=k3", "optim.rl_lr=0.01")
    full = make_trainer(cfg, tmp_path / "full")
    full.fit()
    stopped = make_trainer(cfg, tmp_path / "stopped")
    fit_until_interrupted(stopped, monkeypatch, 20)  # the checkpoint at 16 holds the reference taken at 8
    resumed = resume(tmp_path / "stopped")
    assert resumed.state.step == 16 and resumed.state.reference_step == 8
    ref_a, ref_b = full.source.reference.policy.state_dict(), resumed.source.reference.policy.state_dict()
    assert all(torch.equal(ref_a[k], ref_b[k]) for k in ref_a)
    resumed.fit()
    a, b = full.source.policy.state_dict(), resumed.source.policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("baseline", ["rloo", "value"])
def test_scoring_from_the_sampling_pass_takes_the_teachers_step(tmp_path, baseline):
    """reinforce.scoring=sampling (the sampling pass's own graph) and =teacher (a second,
    teacher-forced pass) differentiate the same log-probs: same loss, same gradient, same weights."""
    weights, metrics = [], []
    for scoring in ("sampling", "teacher"):
        trainer = make_trainer(tiny_config(f"reinforce.scoring={scoring}", f"reinforce.baseline={baseline}",
                                      "reinforce.entropy_coef=0.01"), tmp_path / scoring)
        for step in range(3):
            examples = trainer.source.data.train_batch(step, 16)
            m = train_step(trainer.source.ctx, examples, collate(examples), StepPlan(True, 0), step, trainer.state)
        assert (m["time_score"] > 0) == (scoring == "teacher")
        metrics.append(m)
        weights.append(torch.cat([p.detach().flatten() for p in trainer.source.policy.parameters()]))
    assert metrics[0]["loss"] == pytest.approx(metrics[1]["loss"], rel=1e-4, abs=1e-6)
    assert metrics[0]["grad_norm"] > 0 and metrics[0]["grad_norm"] == pytest.approx(metrics[1]["grad_norm"], rel=1e-4)
    assert metrics[0]["entropy"] == pytest.approx(metrics[1]["entropy"], rel=1e-4)
    assert (weights[0] - weights[1]).abs().max() < 1e-5


def test_reward_mean_is_the_task_reward_and_return_mean_carries_the_k1_penalty(tmp_path):
    from seqrl.run import jsonl
    from seqrl.sources import make_trainer
    from tests.conftest import tiny_config

    cfg = tiny_config("reinforce.kl_coef=5.0", "reinforce.kl_estimator=k1", "curriculum.warmup_steps=0",
                      "curriculum.kind=reinforce", "optim.steps=6", "optim.rl_lr=0.05", "task.reward=exact_match")
    make_trainer(cfg, tmp_path).fit()
    rows = [r for r in jsonl.read(tmp_path / "metrics.jsonl") if r["mode"] == "reinforce"]
    assert all(0.0 <= r["reward_mean"] <= 1.0 for r in rows)  # exact match, never penalised
    moved = [r for r in rows if r["kl"] > 1e-4]
    assert moved and all(r["return_mean"] < r["reward_mean"] for r in moved)  # KL penalty in the returns only


def test_kl_reference_is_the_policy_at_the_first_reinforce_step(tmp_path, monkeypatch):
    from seqrl.sequences import source as trainer_module
    from seqrl.sources import make_trainer
    from tests.conftest import tiny_config

    trainer = make_trainer(tiny_config("reinforce.kl_coef=0.1", "curriculum.warmup_steps=8", "optim.steps=9"), tmp_path)
    seen = {}
    real = trainer_module.train_step

    def spy(ctx, examples, batch, plan, step, state):
        if step == 8:  # the first REINFORCE step: the reference equals the policy after 8 cross-entropy steps
            ref, pol = ctx.reference.policy.state_dict(), ctx.policy.state_dict()
            seen["equal"] = all(torch.equal(ref[k], pol[k]) for k in pol)
        return real(ctx, examples, batch, plan, step, state)

    monkeypatch.setattr(trainer_module, "train_step", spy)
    trainer.fit()
    assert seen["equal"] and trainer.state.reference_step == 8


def _gradient(tmp_path, monkeypatch, name, plan, *overrides):
    """The step's gradient (flat, before clipping) on a fresh tiny run; no update is applied."""
    import seqrl.sequences.step as step_module

    seen = {}

    def record(loss, optimizer, params, *args, **kwargs):
        loss.backward()
        seen["grad"] = torch.cat([p.grad.flatten() for p in params if p.grad is not None]).clone()
        return 0.0

    monkeypatch.setattr(step_module, "apply_update", record)
    m, _ = _step(tmp_path / name, plan, "model.dropout=0", *overrides)
    return seen["grad"], m


@pytest.mark.parametrize("objective", [["reinforce.baseline=rloo"], ["reinforce.objective=risk",
                                                                       "reinforce.baseline=none"]])
def test_xent_coef_adds_the_reference_cross_entropy_gradient_to_the_reinforce_step(tmp_path, monkeypatch,
                                                                                    objective):
    rl, _ = _gradient(tmp_path, monkeypatch, "rl", StepPlan(True, 0), *objective)
    xent, mx = _gradient(tmp_path, monkeypatch, "xent", StepPlan(False, 0), *objective)
    mixed, m = _gradient(tmp_path, monkeypatch, "mixed", StepPlan(True, 0), *objective, "reinforce.xent_coef=0.3")
    assert m["reference_xent"] == pytest.approx(mx["xent"])  # the same references, the same parameters
    assert torch.allclose(mixed, rl + 0.3 * xent, atol=1e-6)  # the same samples: the terms just add
    assert float((mixed - rl).abs().max()) > 1e-4  # and the term is really there


def test_xent_coef_needs_references_and_a_sequence_run(tmp_path):
    from seqrl.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="reinforce.xent_coef"):
        load_config(None, ["env.id=CartPole-v1", "model.kind=mlp", "curriculum.kind=reinforce",
                           "reinforce.baseline=none", "reinforce.xent_coef=0.5"])
    with pytest.raises(ConfigError, match="reinforce.xent_coef: .* task 'digit_sum' does not have"):
        make_trainer(tiny_config("task.name=digit_sum", "curriculum.kind=reinforce", "reinforce.xent_coef=0.5"),
                     tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before the run directory is made
