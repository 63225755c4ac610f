"""The frozen reference policy of the KL penalty: the policy as it was when training started.

`FrozenReference` keeps a copy of the initial network (saved in every checkpoint, so a resumed
run compares against the same weights). With LoRA, the base model without its adapters is the
initial model, so `AdapterOffReference` scores with the adapters switched off and needs no copy.
"""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor

from seqrl.policies.base import AutoregressivePolicy
from seqrl.rollout import Batch


class FrozenReference:
    def __init__(self, policy: AutoregressivePolicy) -> None:
        self.policy = copy.deepcopy(policy).eval()
        for p in self.policy.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def logprobs(self, inputs: Batch, tokens: Tensor, mask: Tensor, temperature: float) -> Tensor:
        return self.policy.score(inputs, tokens, mask, temperature, entropy_grad=False).logprobs

    @property
    def module(self) -> Any:
        """What the checkpoint must hold (None: nothing)."""
        return self.policy


class AdapterOffReference:
    def __init__(self, policy: AutoregressivePolicy, peft: Any) -> None:
        self.policy, self.peft = policy, peft

    @torch.no_grad()
    def logprobs(self, inputs: Batch, tokens: Tensor, mask: Tensor, temperature: float) -> Tensor:
        was_training = self.policy.training
        self.policy.eval()
        try:
            with self.peft.disable_adapter():
                return self.policy.score(inputs, tokens, mask, temperature, entropy_grad=False).logprobs
        finally:
            self.policy.train(was_training)

    @property
    def module(self) -> Any:
        return None


def make_reference(policy: AutoregressivePolicy):
    peft = getattr(policy.network, "peft", None)
    return AdapterOffReference(policy, peft) if peft is not None else FrozenReference(policy)
