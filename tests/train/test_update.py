"""The shared end of a training step: the optimizer named by optim.optimizer, clipping, the named error."""
from __future__ import annotations

import math

import pytest
import torch

from seqrl.config import load_config
from seqrl.train.update import TrainingError, apply_update, build_optimizer


def test_optim_optimizer_builds_rmsprop_with_its_decay_and_adamw_by_default():
    params = [torch.nn.Parameter(torch.ones(2))]
    rms = build_optimizer(load_config(None, ["optim.optimizer=rmsprop", "optim.rmsprop_decay=0.9",
                                             "optim.lr=0.01"]).optim, params)
    assert isinstance(rms, torch.optim.RMSprop) and rms.defaults["alpha"] == 0.9 and rms.defaults["lr"] == 0.01
    assert isinstance(build_optimizer(load_config(None).optim, params), torch.optim.AdamW)


def test_apply_update_clips_the_global_norm_and_names_a_non_finite_loss():
    w = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([w], lr=1.0)
    m: dict = {}
    norm = apply_update((w * torch.tensor([3.0, 4.0])).sum(), opt, [w], 1.0, 0, m)
    assert norm == pytest.approx(5.0) and torch.allclose(w.detach(), -torch.tensor([0.6, 0.8]))
    assert m["time_backward"] >= 0 and m["time_optim"] >= 0
    with pytest.raises(TrainingError, match="step 7: the loss is nan"):
        apply_update((w * math.nan).sum(), opt, [w], 1.0, 7, m)
