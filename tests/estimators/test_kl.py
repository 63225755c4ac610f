"""k1 and k3 against the exact KL between two categorical distributions."""
import pytest
import torch

from seqrl.estimators.kl import kl_estimate


def test_k1_and_k3_are_unbiased_and_k3_is_nonnegative():
    g = torch.Generator().manual_seed(0)
    p = torch.softmax(torch.randn(6, generator=g), dim=0)
    q = torch.softmax(torch.randn(6, generator=g), dim=0)
    exact = float((p * (p.log() - q.log())).sum())
    y = torch.multinomial(p, 400_000, replacement=True, generator=g).view(1, -1)
    mask = torch.ones_like(y, dtype=torch.bool)
    k1 = kl_estimate(p.log()[y], q.log()[y], mask, "k1")
    k3 = kl_estimate(p.log()[y], q.log()[y], mask, "k3")
    assert abs(float(k1.mean()) - exact) < 0.02 * max(exact, 0.1) + 0.005
    assert abs(float(k3.mean()) - exact) < 0.02 * max(exact, 0.1) + 0.005
    assert (k3 >= 0).all() and float(k3.var()) < float(k1.var())


def test_masked_positions_are_zero_and_gradient_flows_to_the_policy():
    logp = torch.tensor([[-1.0, -2.0, -0.5]], requires_grad=True)
    ref = torch.tensor([[-1.5, -1.0, -3.0]])
    mask = torch.tensor([[True, True, False]])
    k3 = kl_estimate(logp, ref, mask, "k3")
    assert k3[0, 2] == 0
    k3.sum().backward()
    assert logp.grad[0, 2] == 0 and logp.grad[0, 0] != 0
    with pytest.raises(ValueError, match="k1"):
        kl_estimate(logp, ref, mask, "k2")
