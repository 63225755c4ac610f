"""One training step: data -> (sample -> reward -> advantage ->) loss -> clip -> update.

`train_step` is the whole algorithm on one screen; the Trainer owns the objects it uses. A
REINFORCE step is `sample_batch` (sample, score, check rewards), `reinforce_objective` (the loss
under a baseline, no side effects; run.diagnostics builds it under several baselines on the same
samples), then the side effects: the value head's step, the moving average, the counters.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch
from torch import Tensor

from seqrl import seeds
from seqrl.config.schema import Config
from seqrl.curriculum import StepPlan
from seqrl.estimators import losses, risk
from seqrl.estimators.advantages import compute_advantages
from seqrl.estimators.kl import kl_estimate
from seqrl.estimators.returns import reward_to_go, terminal_rewards
from seqrl.estimators.value_head import ValueHead
from seqrl.policies.base import AutoregressivePolicy
from seqrl.rewards.checked import evaluate_rewards, evaluate_token_rewards
from seqrl.rollout import Batch, Rollout, merge_groups, strip
from seqrl.tasks import Example, Task
from seqrl.tasks.base import example_columns
from seqrl.train.device import autocast
from seqrl.train.distributed import World
from seqrl.train.state import TrainState
from seqrl.train.update import TrainingError, apply_update, set_learning_rate, update_baselines


SAMPLING_GRAPH_MAX_LEN = 64  # reinforce.scoring=auto keeps the sampling graph up to this decoding budget


@dataclass
class StepContext:
    cfg: Config
    task: Task
    policy: AutoregressivePolicy
    optimizer: torch.optim.Optimizer
    reward_fn: Callable[..., Any]
    max_len: int
    value_head: Optional[ValueHead] = None
    value_optimizer: Optional[torch.optim.Optimizer] = None
    reference: Optional[Any] = None  # train.reference: the KL penalty's frozen initial policy
    world: World = field(default_factory=World)  # data-parallel rank and size (train.distributed)
    scorer: Optional[torch.nn.Module] = None  # the policy wrapped in DistributedDataParallel
    scaler: Optional[Any] = None  # torch.amp.GradScaler for run.precision=fp16

    def score(self, batch: Batch, tokens: Tensor, mask: Tensor, temperature: float = 1.0,
              entropy_grad: bool = True):
        """Teacher-forced scores with grad, through DDP when training data-parallel."""
        return (self.scorer or self.policy)(batch, tokens, mask, temperature, entropy_grad)

    def scores_in_sampling(self) -> bool:
        """Train on the sampling pass's own graph (reinforce.scoring), or rescore the samples."""
        mode = self.cfg.reinforce.scoring
        if self.world.distributed:  # gradients are all-reduced by DDP's forward: rescore through it
            return False
        return mode == "sampling" or (mode == "auto" and self.max_len <= SAMPLING_GRAPH_MAX_LEN)

    def rows(self, k: int) -> Optional[tuple[int, int]]:
        """This rank's (row offset, total rows) of a step's samples; None in one process."""
        if not self.world.distributed:
            return None
        lo, _ = self.world.shard(self.cfg.optim.batch_size)
        return lo * k, self.cfg.optim.batch_size * k


def score_rollout(ctx: StepContext, examples: list[Example], rollout: Rollout, step: int) -> Any:
    """Checked rewards of the rollout's completions: RewardResult with (N,) or (N, T) values."""
    k = rollout.k
    completions = strip(rollout.tokens, rollout.mask, rollout.eos)
    refs = [list(e.target) if e.target is not None else None for e in examples for _ in range(k)]
    sources = [list(e.source) for e in examples for _ in range(k)]
    columns = example_columns(examples, k)
    kwargs = dict(columns=columns, step=step, on_error=ctx.cfg.run.on_bad_reward, render=ctx.task.vocab.render)
    if ctx.cfg.task.per_token:
        result = evaluate_token_rewards(ctx.reward_fn, completions, refs, sources, width=rollout.tokens.shape[1],
                                        **kwargs)
    else:
        result = evaluate_rewards(ctx.reward_fn, completions, refs, sources, **kwargs)
    device = rollout.tokens.device  # rewards are computed in Python on the CPU; the loss is where the rollout is
    return result._replace(values=result.values.to(device), valid=result.valid.to(device))


def greedy_returns(ctx: StepContext, examples: list[Example], batch: Batch, step: int,
                   forced: Optional[Tensor] = None, forced_len: Optional[Tensor] = None) -> Tensor:
    """Self-critical baseline: the sequence reward of the greedy decode of each input, (B,),
    continuing the same forced prefix as the samples under MIXER."""
    was_training = ctx.policy.training
    ctx.policy.eval()
    rollout = ctx.policy.greedy(batch, ctx.max_len, forced, forced_len)
    ctx.policy.train(was_training)
    result = score_rollout(ctx, examples, rollout, step)
    values = result.values if result.values.dim() == 1 else result.values.sum(dim=1)
    return torch.where(result.valid, values, torch.zeros_like(values))


@dataclass
class Sampled:
    """One REINFORCE batch: the samples, their teacher-forced scores (with grad) and rewards."""

    rollout: Rollout
    scored: Any  # policies.base.Scored: logprobs (N, T), entropy (N, T), features
    result: Any  # rewards.checked.RewardResult
    rl_mask: Tensor  # (N, T) tokens trained by REINFORCE
    forced_mask: Tensor  # (N, T) tokens forced from the reference (MIXER), trained by cross-entropy
    returns: Tensor  # (N, T) return-to-go (discounted, minus the k1 KL penalty)
    kl: Optional[Tensor]  # (N, T) the KL estimate against the reference, when there is one
    predicted: Optional[Tensor]  # (N, T) the value head's prediction (grad into the head only)
    forced: Optional[Tensor]  # the forced prefix / suffix the samples continue
    forced_len: Optional[Tensor]


def sample_batch(ctx: StepContext, examples: list[Example], batch: Batch, plan: StepPlan, step: int,
                 generator: torch.Generator, m: dict[str, Any]) -> Sampled:
    """Sample k completions per input with `generator`, score them and check their rewards."""
    cfg, rl = ctx.cfg, ctx.cfg.reinforce
    forced = forced_len = None
    if plan.prefix > 0 and batch.tgt is not None:
        forced, forced_len = batch.tgt, batch.tgt_mask.sum(dim=1).clamp(max=plan.prefix)
    elif plan.suffix > 0 and batch.tgt is not None and batch.tgt_mask is not None:
        forced, forced_len = batch.tgt, (batch.tgt_mask.sum(dim=1) - plan.suffix).clamp(min=0)
    clock = time.perf_counter()
    beam = rl.objective == "risk" and rl.risk_candidates != "samples"
    fused = ctx.scores_in_sampling() and not beam
    entropy_grad = rl.entropy_coef > 0
    try:
        if fused:  # the loss differentiates the sampling pass itself: no second forward
            rollout, scored = ctx.policy.sample_scored(batch, rl.samples_per_input, ctx.max_len, rl.temperature,
                                                       generator, forced, forced_len, entropy_grad)
        elif beam:
            rollout = beam_candidates(ctx, batch, generator)
        else:
            rollout = ctx.policy.sample(batch, rl.samples_per_input, ctx.max_len, rl.temperature, generator,
                                        forced, forced_len, ctx.rows(rl.samples_per_input))
    except RuntimeError as err:  # e.g. NaN/inf next-token probabilities from a broken policy
        raise TrainingError(f"step {step}: sampling failed ({err}); stopping (the last checkpoint is kept)") from err
    clock = _lap(m, "time_sample", clock)
    result = score_rollout(ctx, examples, rollout, step)
    clock = _lap(m, "time_reward", clock)
    valid, mask = result.valid, rollout.mask
    if fused:
        m["time_score"] = 0.0  # the sampling pass was the scoring pass
    else:
        scored = ctx.score(batch, rollout.tokens, mask, rl.temperature, entropy_grad=entropy_grad)
        clock = _lap(m, "time_score", clock)
    _check_scores(scored.logprobs, mask, rollout.tokens, ctx, step)
    rl_mask = mask & ~rollout.forced & valid.unsqueeze(1)
    token_r = result.values if result.values.dim() == 2 else terminal_rewards(result.values, mask)
    kl = None
    if ctx.reference is not None and rl.kl_coef > 0:
        ref = ctx.reference.logprobs(batch, rollout.tokens, mask, rl.temperature)
        kl = kl_estimate(scored.logprobs, ref, rl_mask, rl.kl_estimator)  # (N, T)
        if rl.kl_estimator == "k1":  # a per-token reward penalty: enters returns and baselines
            token_r = token_r - rl.kl_coef * kl.detach()
    returns = reward_to_go(token_r, mask, cfg.task.gamma)  # (N, T)
    predicted = ctx.value_head(scored.features) if ctx.value_head is not None else None
    return Sampled(rollout, scored, result, rl_mask, rollout.forced & mask, returns, kl, predicted, forced, forced_len)


def beam_candidates(ctx: StepContext, batch: Batch, generator: torch.Generator) -> Rollout:
    """reinforce.risk_candidates beam or both: each input's risk_beam beam hypotheses (decoded
    with dropout off, like the self-critical baseline's greedy decode), after its k samples."""
    rl = ctx.cfg.reinforce
    was_training = ctx.policy.training
    ctx.policy.eval()
    hypotheses = ctx.policy.beam(batch, ctx.max_len, rl.risk_beam, return_all=True)
    ctx.policy.train(was_training)
    if rl.risk_candidates == "beam":
        return hypotheses
    samples = ctx.policy.sample(batch, rl.samples_per_input, ctx.max_len, rl.temperature, generator,
                                rows=ctx.rows(rl.samples_per_input))
    return merge_groups(samples, hypotheses)


def reinforce_objective(ctx: StepContext, s: Sampled, baseline: str, ema: float, greedy: Optional[Tensor],
                        n_seq: float, n_rl: float, n_forced: float,
                        n_inputs: float = 0.0) -> tuple[Tensor, Tensor, dict[str, Any]]:
    """The loss of one sampled batch under `baseline` (no side effects): REINFORCE (or, with
    reinforce.objective=risk, the candidate set's risk over `n_inputs` inputs) + KL (k3) +
    cross-entropy on forced tokens - entropy bonus. Returns (loss, the baseline (N, T), terms)."""
    cfg, rl = ctx.cfg, ctx.cfg.reinforce
    terms: dict[str, Any] = {}
    if rl.objective == "risk":
        loss, base, terms["risk"] = _risk(s, rl.risk_alpha, n_inputs)
    else:
        adv, base = compute_advantages(baseline, s.returns, s.rl_mask, s.result.valid, s.rollout.k, ema=ema,
                                       greedy_returns=greedy, predicted=s.predicted, use_std=rl.grpo_std)
        loss = losses.reinforce_loss(s.scored.logprobs, adv, s.rl_mask, n_seq, rl.normalization, n_rl)
    if s.kl is not None:
        kl_mean = s.kl.sum() / max(n_rl, 1.0)
        terms["kl"] = kl_mean.item()
        if rl.kl_estimator == "k3":
            loss = loss + rl.kl_coef * kl_mean
    if n_forced > 0:
        xent = losses.token_xent(s.scored.logprobs, s.forced_mask, n_forced)
        terms["xent"] = xent.item()
        loss = loss + cfg.curriculum.xent_weight * xent
    entropy = losses.mean_entropy(s.scored.entropy, s.rl_mask, n_rl)
    terms["entropy"] = entropy.item()
    return loss - rl.entropy_coef * entropy, base, terms


def _risk(s: Sampled, alpha: float, n_inputs: float) -> tuple[Tensor, Tensor, float]:
    """Risk over each input's distinct, validly rewarded candidates: (loss, E_Q[G_0] per row as
    (N, T) on the trained tokens, the loss's value)."""
    k = s.rollout.k
    keep = risk.first_occurrences(s.rollout.tokens, s.rollout.mask, k) & s.result.valid
    seq_lp = torch.where(s.rl_mask, s.scored.logprobs, torch.zeros_like(s.scored.logprobs)).sum(dim=1)  # (N,)
    g0 = s.returns[:, 0]  # (N,) the sequence's return: what REINFORCE would weight
    loss, q = risk.risk_loss(seq_lp, g0, keep, k, alpha, n_inputs)
    base = risk.expected_reward(q, g0, keep, k).repeat_interleave(k).unsqueeze(1).expand_as(s.returns)
    return loss, torch.where(s.rl_mask, base, torch.zeros_like(base)), loss.item()


def groups_with_candidates(s: Sampled) -> Tensor:
    """Number of inputs with at least one validly rewarded candidate (the risk's denominator)."""
    return s.result.valid.view(-1, s.rollout.k).any(dim=1).sum()


def _reinforce_loss(ctx: StepContext, examples: list[Example], batch: Batch, plan: StepPlan,
                    step: int, state: TrainState, m: dict[str, Any]) -> Tensor:
    cfg, rl = ctx.cfg, ctx.cfg.reinforce
    s = sample_batch(ctx, examples, batch, plan, step, seeds.sampling(cfg.run.seed, step), m)
    result, rollout, returns, rl_mask = s.result, s.rollout, s.returns, s.rl_mask
    mask, valid = rollout.mask, result.valid
    greedy = None
    if rl.baseline == "self_critical":
        clock = time.perf_counter()
        greedy = greedy_returns(ctx, examples, batch, step, s.forced, s.forced_len)
        _lap(m, "time_baseline", clock)  # greedy decode + its reward
    seq_g = returns[:, 0][valid]  # G_0: what the estimator optimises (discounted, k1-penalised)
    raw = result.values if result.values.dim() == 1 else result.values.sum(dim=1)
    seq_r = raw[valid]  # the task's own reward, as the user defined it
    # Counts and reward sums of the whole batch (every rank's share, in data-parallel training).
    n_seq, n_rl, n_forced, r_sum, r_sq, g_sum, n_inputs = _totals(
        ctx, [valid.sum(), rl_mask.sum(), s.forced_mask.sum(), seq_r.sum(), (seq_r ** 2).sum(), seq_g.sum(),
              groups_with_candidates(s)])
    loss, base, terms = reinforce_objective(ctx, s, rl.baseline, state.ema, greedy, n_seq, n_rl, n_forced, n_inputs)
    m.update({k: v for k, v in terms.items() if k != "entropy"})
    if rl.xent_coef > 0 and batch.tgt is not None:
        loss = loss + rl.xent_coef * reference_xent(ctx, batch, step, m)
    mean_r = r_sum / n_seq if n_seq else None
    mean_g = g_sum / n_seq if n_seq else None
    update_baselines(state, rl, mean_g, s.predicted, returns, rl_mask, n_rl, ctx.value_optimizer, ctx.world.all_sum_)
    state.skipped_rewards += result.skipped
    n_rl, n_all = int(rl_mask.sum()), int(mask.sum())
    state.sequences += rollout.tokens.shape[0]
    state.tokens += n_all
    m.update(
        reward_mean=mean_r,  # the task reward (no KL penalty, no discount): what the progress bar shows
        reward_std=max(r_sq / n_seq - mean_r ** 2, 0.0) ** 0.5 if mean_r is not None else None,
        return_mean=mean_g,  # mean G_0 the estimator weights: minus the k1 KL penalty, discounted
        entropy=terms["entropy"] * ctx.world.size,  # this rank's share of the batch mean, scaled up
        baseline_error=float(((returns - base) ** 2)[rl_mask].mean()) if n_rl else None,
        reinforce_share=n_rl / max(n_all, 1),
        finished=float(rollout.finished.float().mean()),  # share of samples that emitted EOS
        prefix=plan.prefix,
        suffix=plan.suffix,
        skipped=result.skipped,
        sequences=rollout.tokens.shape[0],
        tokens=n_all,
    )
    return loss * ctx.world.size  # DDP averages gradients over ranks; the normalisers are global


def reference_xent(ctx: StepContext, batch: Batch, step: int, m: dict[str, Any]) -> Tensor:
    """reinforce.xent_coef's term: teacher-forced cross-entropy on the batch's references, per
    reference token of the whole batch. Scored by the policy itself, not through DDP: in data-parallel
    training its gradient reaches each parameter in the same backward as the DDP forward's, so
    the reducer all-reduces their sum (one DDP forward per step)."""
    assert batch.tgt is not None and batch.tgt_mask is not None
    clock = time.perf_counter()
    scored = ctx.policy(batch, batch.tgt, batch.tgt_mask, 1.0, False)  # (B, T) at temperature 1, as xent steps
    _lap(m, "time_score", clock)
    _check_scores(scored.logprobs, batch.tgt_mask, batch.tgt, ctx, step)
    (n_tok,) = _totals(ctx, [batch.tgt_mask.sum()])
    xent = losses.token_xent(scored.logprobs, batch.tgt_mask, n_tok)
    m["reference_xent"] = xent.item() * ctx.world.size  # this rank's share of the batch mean, scaled up
    return xent


def _lap(m: dict[str, Any], key: str, since: float) -> float:
    """Add the seconds since `since` to m[key] (a phase of the step's profile); returns now."""
    now = time.perf_counter()
    m[key] = m.get(key, 0.0) + now - since
    return now


def _totals(ctx: StepContext, values: list[Tensor]) -> list[float]:
    """Sums over ranks of scalar tensors, in one collective (the values themselves in one process)."""
    t = torch.stack([v.detach().double() for v in values])
    if ctx.world.distributed:
        import torch.distributed as dist

        dist.all_reduce(t)
    return [float(x) for x in t]


def _check_scores(logprobs: Tensor, mask: Tensor, tokens: Tensor, ctx: StepContext, step: int) -> None:
    """Name the first sample whose log-probabilities are NaN/inf (a broken policy or input)."""
    bad = (~torch.isfinite(logprobs) & mask).any(dim=1)
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        text = ctx.task.vocab.render(tokens[i][mask[i]].tolist())
        raise TrainingError(f"step {step}: sample {i} ({text!r}) has non-finite log-probabilities; "
                            "stopping (the last checkpoint is kept)")


def train_step(ctx: StepContext, examples: list[Example], batch: Batch, plan: StepPlan, step: int,
               state: TrainState) -> dict[str, Any]:
    """Run one optimisation step and return its metrics."""
    cfg = ctx.cfg
    lr = set_learning_rate(ctx.optimizer, cfg.optim, step, plan.reinforce)
    ctx.policy.train()
    m: dict[str, Any] = {"mode": "reinforce" if plan.reinforce else "xent", "lr": lr}
    with autocast(ctx.world.device, cfg.run.precision):  # forward passes; log-probs and losses stay float32
        if plan.reinforce:
            loss = _reinforce_loss(ctx, examples, batch, plan, step, state, m)
        else:
            assert batch.tgt is not None and batch.tgt_mask is not None
            clock = time.perf_counter()
            scored = ctx.score(batch, batch.tgt, batch.tgt_mask, entropy_grad=False)
            _lap(m, "time_score", clock)
            _check_scores(scored.logprobs, batch.tgt_mask, batch.tgt, ctx, step)
            (n_tok,) = _totals(ctx, [batch.tgt_mask.sum()])
            xent = losses.token_xent(scored.logprobs, batch.tgt_mask, n_tok)
            loss = xent * ctx.world.size  # DDP averages gradients over ranks
            m.update(xent=xent.item() * ctx.world.size,
                     entropy=losses.mean_entropy(scored.entropy, batch.tgt_mask, n_tok).item() * ctx.world.size,
                     reinforce_share=0.0, tokens=int(batch.tgt_mask.sum()), sequences=batch.size)
    grad_norm = apply_update(loss, ctx.optimizer, list(ctx.policy.parameters()), cfg.optim.grad_clip, step, m,
                             ctx.scaler)
    m.update(loss=loss.item() / ctx.world.size, grad_norm=grad_norm)
    return m
