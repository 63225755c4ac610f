"""The end of every training step: backward, clip the global gradient norm, optimizer step
(through the fp16 gradient scaler when there is one). Shared by sequence and episode steps."""
from __future__ import annotations

import time
from typing import Any, Iterable, Optional

import torch
from torch import Tensor

from seqrl.config.schema import OptimConfig


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
