"""The sequence source: a task and its data, the sequence policy, its optimizer, learned baseline
and KL reference, and one training step / one validation over them. The Trainer's loop, run
directory and checkpoints drive it as they drive an environment source (seqrl.envs)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import torch

from seqrl import seeds
from seqrl.config import Config, ConfigError
from seqrl.curriculum import StepPlan
from seqrl.curriculum import plan as curriculum_plan
from seqrl.estimators.diagnostics import flat_grad
from seqrl.estimators.value_head import ValueHead
from seqrl.rollout import Batch, strip
from seqrl.tasks import collate
from seqrl.tasks.base import example_columns
from seqrl.sequences.build import build_data, build_policy, build_task, check_compatible, training_reward
from seqrl.sequences.build_text import build_text
from seqrl.train.device import grad_scaler
from seqrl.train.distributed import World
from seqrl.sequences.reference import make_reference
from seqrl.train.source import Holdings
from seqrl.train.state import TrainState
from seqrl.train.update import build_optimizer
from seqrl.sequences.step import StepContext, greedy_returns, reinforce_objective, sample_batch, train_step
from seqrl.vocab import specials_of

log = logging.getLogger("seqrl")


class SequenceSource:
    """Builds everything a sequence run trains from a validated Config."""

    def __init__(self, cfg: Config, world: World, run_dir: Path,
                 reward_fn: Optional[Callable[..., Any]] = None,
                 init: Optional[Callable[[torch.nn.Module], None]] = None) -> None:
        """`init(policy)` loads run.init_from before the KL reference copies the policy."""
        self.cfg, self.world, self.device = cfg, world, world.device
        device = world.device
        if cfg.optim.batch_size < world.size:
            raise ConfigError(f"optim.batch_size ({cfg.optim.batch_size}) must be at least the number of "
                              f"processes ({world.size}): each rank takes a share of the inputs")
        if cfg.task.name == "text":
            self.task, self.data = build_text(cfg, run_dir)
            check_compatible(cfg, self.task)
        else:
            self.task = build_task(cfg)
            check_compatible(cfg, self.task)
            self.data = build_data(cfg, self.task)
        self.task, self.reward_fn, self._pools = training_reward(cfg, self.task, reward_fn)
        cur = cfg.curriculum
        if cur.kind in ("warmup", "alternate") and cur.warmup_steps >= cfg.optim.steps:
            log.warning("no REINFORCE step will run: curriculum.warmup_steps (%d) >= optim.steps (%d), so this run "
                        "trains with cross-entropy only (curriculum.kind=xent says so explicitly)",
                        cur.warmup_steps, cfg.optim.steps)
        longest = max(cfg.task.train_max_len, cfg.task.val_max_len)
        self.max_len = cfg.reinforce.max_len or self.task.max_target_len(longest) + 1
        self.full_length = self.task.max_target_len(cfg.task.train_max_len) + 1  # EOS included
        src_len = max(len(e.source) for e in self.data.validation) + 2 * longest + 8
        if cfg.task.name == "text":
            src_len = max(src_len, cfg.data.max_tokens + 8)
        seeds.seed_global(cfg.run.seed)
        if cfg.model.kind == "hf":
            from seqrl.sequences.build_hf import build_hf_run_policy

            self.policy = build_hf_run_policy(cfg, self.task, self.data, self.max_len)
        else:
            self.policy = build_policy(cfg, self.task.vocab.size, src_len + self.max_len + 8,
                                       getattr(self.task, "source_vocab_size", None))
        self.policy.to(device)  # built (and seeded) on the CPU, so every device starts from the same weights
        self.optimizer = build_optimizer(cfg.optim, self.policy.parameters())
        self.value_head: Optional[ValueHead] = None
        self.value_optimizer: Optional[torch.optim.Optimizer] = None
        if cfg.reinforce.baseline == "value":
            self.value_head = ValueHead(self.policy.feature_dim, cfg.reinforce.value_hidden).to(device)
            self.value_optimizer = torch.optim.Adam(self.value_head.parameters(), lr=cfg.reinforce.value_lr)
        if init is not None:
            init(self.policy)
        # The KL reference: a copy of the policy, taken again at the first REINFORCE step (resume
        # loads its saved weights and the step it was taken at).
        self.reference = make_reference(self.policy) if cfg.reinforce.kl_coef > 0 else None
        scorer = None
        if world.distributed:  # DDP broadcasts rank 0's weights now and all-reduces gradients
            from torch.nn.parallel import DistributedDataParallel

            ids = [device.index] if device.type == "cuda" else None
            scorer = DistributedDataParallel(self.policy, device_ids=ids, find_unused_parameters=True)
        self.scaler = grad_scaler(device, cfg.run.precision)
        self.ctx = StepContext(cfg, self.task, self.policy, self.optimizer, self.reward_fn, self.max_len,
                               self.value_head, self.value_optimizer, self.reference, world, scorer, self.scaler)

    def holdings(self) -> Holdings:
        """The policy, its optimizer, the value head and its optimizer, the KL reference, the fp16 scaler."""
        modules: dict[str, torch.nn.Module] = {"policy": self.policy}
        optimizers = {"optim": self.optimizer}
        if self.value_head is not None and self.value_optimizer is not None:
            modules["value"] = self.value_head
            optimizers["value_optim"] = self.value_optimizer
        if self.reference is not None and self.reference.module is not None:
            modules["reference"] = self.reference.module
        return Holdings(modules, optimizers, self.scaler)

    def close(self) -> None:
        """Stop reward workers."""
        for pool in self._pools:
            pool.close()

    def on_stop_signal(self, should_stop: Optional[Callable[[], bool]]) -> None:
        """A stop signal also ends a wait on stuck reward workers (None: training is over)."""
        for pool in self._pools:
            pool.should_stop = should_stop

    def _inputs(self, step: int, state: TrainState) -> tuple[list, Batch, StepPlan]:
        """The examples, batch and curriculum plan of `step` (taking the KL reference at the first
        REINFORCE step)."""
        cfg = self.cfg
        examples = self.data.train_batch(step, cfg.optim.batch_size)
        if self.world.distributed:  # this rank's share; dropout draws a (seed, step, rank) stream
            torch.manual_seed(seeds.rank_seed(cfg.run.seed, step, self.world.rank))
            lo, hi = self.world.shard(len(examples))
            examples = examples[lo:hi]
        p = curriculum_plan(cfg.curriculum, step, cfg.run.seed, self.full_length)
        if p.reinforce and self.reference is not None and state.reference_step < 0:
            self.reference.capture(self.policy)  # the KL reference: the policy REINFORCE starts from
            state.reference_step = step
        return examples, collate(examples, specials_of(self.task)).to(self.device), p

    def train_step(self, step: int, state: TrainState) -> dict[str, Any]:
        examples, batch, p = self._inputs(step, state)
        return train_step(self.ctx, examples, batch, p, step, state)

    def gradient_estimates(self, step: int, state: TrainState, baselines: Sequence[str],
                           repeats: int) -> Optional[dict[str, list[torch.Tensor]]]:
        """`repeats` flat gradients of `step`'s loss per baseline, each set of samples shared by
        every baseline (run.diagnostics); None on a cross-entropy step."""
        examples, batch, p = self._inputs(step, state)
        if not p.reinforce:
            return None
        ctx, seed = self.ctx, self.cfg.run.seed
        params = [q for q in self.policy.parameters() if q.requires_grad]
        self.policy.train()
        out: dict[str, list[torch.Tensor]] = {b: [] for b in baselines}
        greedy = None
        for r in range(repeats):
            s = sample_batch(ctx, examples, batch, p, step, seeds.diagnostic(seed, step, r), {})
            if greedy is None and "self_critical" in baselines:  # deterministic: one decode for every repeat
                greedy = greedy_returns(ctx, examples, batch, step, s.forced, s.forced_len)
            counts = (float(s.result.valid.sum()), float(s.rl_mask.sum()), float(s.forced_mask.sum()))
            for i, b in enumerate(baselines):
                loss, _, _ = reinforce_objective(ctx, s, b, state.ema, greedy, *counts)
                out[b].append(flat_grad(loss, params, retain_graph=i < len(baselines) - 1))
        return out

    # -- evaluation --------------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, examples: list, beam: Optional[int] = None, length_penalty: float = 1.0,
               batch_size: int = 256) -> list[list[int]]:
        """Greedy (or beam-search) outputs of `examples` in order, EOS and padding stripped."""
        was_training = self.policy.training
        self.policy.eval()
        outputs: list[list[int]] = []
        for i in range(0, len(examples), batch_size):
            batch = collate(examples[i : i + batch_size], specials_of(self.task)).to(self.device)
            rollout = (self.policy.beam(batch, self.max_len, beam, length_penalty) if beam
                       else self.policy.greedy(batch, self.max_len))
            outputs.extend(strip(rollout.tokens, rollout.mask, rollout.eos))
        self.policy.train(was_training)
        return outputs

    def evaluate(self, examples: Optional[list] = None, batch_size: int = 256,
                 beam: Optional[int] = None, length_penalty: float = 1.0) -> dict[str, Any]:
        """Greedy (or beam-search) decoding on the validation set: the task's metrics and a few samples."""
        examples = list(self.data.validation if examples is None else examples)
        outputs = self.decode(examples, beam, length_penalty, batch_size)
        sources = [list(e.source) for e in examples]
        refs = [list(e.target) if e.target is not None else None for e in examples]
        extra = example_columns(examples) or {}
        metrics = dict(self.task.metrics(outputs, refs, sources, **extra))
        render = self.task.vocab.render
        render_source = getattr(self.task, "render_source", render)  # text with its own source vocabulary
        metrics["samples"] = [
            {"source": render_source(s), "reference": render(r) if r is not None else None, "output": render(o)}
            for s, r, o in list(zip(sources, refs, outputs))[: self.cfg.run.eval_samples]
        ]
        return metrics

    def headline(self, metrics: dict[str, Any]) -> float:
        """The number `run.stop_at` and the best checkpoint track: exact match, success rate for
        reference-free tasks, corpus BLEU for text."""
        for key in ("exact_match", "success_rate", "bleu", "reward"):
            if key in metrics:
                return float(metrics[key])
        raise KeyError(f"task {self.task.name!r} reports none of exact_match, success_rate, reward")
