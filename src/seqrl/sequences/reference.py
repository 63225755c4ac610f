"""The frozen reference policy of the KL penalty: the policy as it was when REINFORCE started.

`FrozenReference` keeps a copy of the network, taken again by `capture` at the first REINFORCE
step (after any cross-entropy warm-up; saved in every checkpoint, so a resumed run compares
against the same weights). With LoRA, the base model without its adapters is the reference, so
`AdapterOffReference` scores with the adapters switched off and needs no copy (and `capture`
changes nothing).
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

    @torch.no_grad()
    def capture(self, policy: AutoregressivePolicy) -> None:
        """The reference becomes a copy of `policy` as it is now."""
        self.policy.load_state_dict(policy.state_dict())


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

    def capture(self, policy: AutoregressivePolicy) -> None:
        """Nothing to do: the reference is the base model without adapters."""


def make_reference(policy: AutoregressivePolicy):
    peft = getattr(policy.network, "peft", None)
    return AdapterOffReference(policy, peft) if peft is not None else FrozenReference(policy)
