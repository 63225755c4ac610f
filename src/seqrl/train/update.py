"""What every training step shares: the step's learning rate, the baselines' own updates (the
value function's step, the moving average), and the end: backward, clip the global gradient norm,
optimizer step (through the fp16 gradient scaler when there is one). Shared by sequence and
episode steps."""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Optional

import torch
from torch import Tensor

from seqrl.config.reinforce_schema import ReinforceConfig
from seqrl.config.schema import OptimConfig
from seqrl.curriculum import learning_rate
from seqrl.estimators import losses
from seqrl.estimators.baselines import ema_update
from seqrl.train.state import TrainState


class TrainingError(RuntimeError):
    """Training cannot continue (non-finite loss or gradient); names the step and sample."""


def check_finite(loss: Tensor, step: int, what: str) -> None:
    if not torch.isfinite(loss):
        raise TrainingError(f"step {step}: the {what} is {loss.item()}; stopping (the last checkpoint is kept)")


def apply_update(loss: Tensor, optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter],
                 grad_clip: float, step: int, m: dict[str, Any], scaler: Optional[Any] = None) -> float:
    """Backward `loss`, clip (grad_clip 0 = off), step; adds time_backward/time_optim (and the
    fp16 loss scale) to `m`; returns the gradient norm before clipping."""
    check_finite(loss, step, "loss")
    optimizer.zero_grad(set_to_none=True)
    clock = time.perf_counter()
    (loss if scaler is None else scaler.scale(loss)).backward()
    now = time.perf_counter()
    m["time_backward"] = m.get("time_backward", 0.0) + now - clock
    clock = now
    if scaler is not None:
        scaler.unscale_(optimizer)  # clip the true gradients
    grads = [p for p in params if p.grad is not None]
    grad_norm = torch.nn.utils.clip_grad_norm_(grads, grad_clip if grad_clip > 0 else float("inf"))
    if scaler is None:
        check_finite(grad_norm, step, "gradient norm")
        optimizer.step()
    else:  # fp16: an overflowing step is skipped and the loss scale lowered, as the scaler is built to do
        scaler.step(optimizer)
        scaler.update()
        m["loss_scale"] = float(scaler.get_scale())
    m["time_optim"] = m.get("time_optim", 0.0) + time.perf_counter() - clock  # clipping + optimizer step
    return float(grad_norm)


def build_optimizer(cfg: OptimConfig, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """optim.optimizer over the trainable parameters, at optim.lr (the loop sets each step's rate)."""
    trainable = [p for p in params if p.requires_grad]
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(trainable, lr=cfg.lr, alpha=cfg.rmsprop_decay, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)


def set_learning_rate(optimizer: Optional[torch.optim.Optimizer], cfg: OptimConfig, step: int,
                      reinforce: bool = True) -> float:
    """The schedule's rate at `step` (curriculum.learning_rate), set on every parameter group."""
    lr = learning_rate(cfg, step, reinforce)
    if optimizer is not None:
        for group in optimizer.param_groups:
            group["lr"] = lr
    return lr


def update_baselines(state: TrainState, rl: ReinforceConfig, mean_return: Optional[float],
                     predicted: Optional[Tensor], returns: Tensor, mask: Tensor, n_steps: float,
                     value_optimizer: Optional[torch.optim.Optimizer],
                     reduce: Optional[Callable[[list[Tensor]], None]] = None) -> Optional[Tensor]:
    """A REINFORCE step's baselines learn from its returns: one step of the value function toward
    them (`predicted`, (N, T) with grad into the value function only; `reduce` sums its gradients
    over data-parallel ranks), then the moving average of the mean return, tracked whatever the
    baseline so that run.diagnostics can measure the ema baseline. Returns the value loss."""
    v_loss = None
    if predicted is not None and value_optimizer is not None:
        v_loss = losses.value_loss(predicted, returns, mask, n_steps)
        value_optimizer.zero_grad(set_to_none=True)
        v_loss.backward()
        if reduce is not None:
            reduce([p.grad for g in value_optimizer.param_groups for p in g["params"] if p.grad is not None])
        value_optimizer.step()
    if mean_return is not None:
        state.ema = ema_update(state.ema, mean_return, rl.ema_decay, state.ema_initialised)
        state.ema_initialised = True
    return v_loss
