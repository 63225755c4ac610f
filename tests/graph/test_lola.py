"""LOLA-DiCE (examples/lola_dice_ipd.py) against the exact look-ahead gradient of a 2-round
iterated prisoner's dilemma, whose 16 joint trajectories can be enumerated: second-order DiCE
through one opponent step, estimated from samples, is unbiased."""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
import lola_dice_ipd as ipd  # noqa: E402

ROUNDS, GAMMA, LR_IN = 2, 0.9, 0.5


def exact_values(t1: torch.Tensor, t2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The expected discounted returns of both agents, by enumeration."""
    v1 = v2 = torch.zeros(())
    for actions in itertools.product((0, 1), repeat=2 * ROUNDS):
        p, state, r1, r2 = torch.ones(()), ipd.START, torch.zeros(()), torch.zeros(())
        for t in range(ROUNDS):
            a1, a2 = actions[2 * t], actions[2 * t + 1]
            q1, q2 = torch.sigmoid(t1[state]), torch.sigmoid(t2[state])  # P(defect)
            p = p * (q1 if a1 else 1 - q1) * (q2 if a2 else 1 - q2)
            r1 = r1 + GAMMA ** t * ipd.PAYOFF[a1, a2]
            r2 = r2 + GAMMA ** t * ipd.PAYOFF[a2, a1]
            state = 2 * a1 + a2
        v1, v2 = v1 + p * r1, v2 + p * r2
    return v1, v2


def test_the_lola_gradient_estimate_matches_the_exact_lookahead_gradient():
    gen = torch.Generator().manual_seed(0)
    t1 = (torch.randn(5, generator=gen)).requires_grad_()
    t2 = (torch.randn(5, generator=gen)).requires_grad_()
    # exact: theta2' = theta2 + lr * grad_2 V2 (a step on its cost -V2), then d(-V1(theta1, theta2'))/d theta1
    _, v2 = exact_values(t1, t2)
    (g2,) = torch.autograd.grad(v2, t2, create_graph=True)
    v1_after, _ = exact_values(t1, t2 + LR_IN * g2)
    (exact,) = torch.autograd.grad(-v1_after, t1)
    (naive,) = torch.autograd.grad(-exact_values(t1, t2)[0], t1)
    cfg = {"batch": 4000, "rounds": ROUNDS, "gamma": GAMMA}
    estimates = []
    for _ in range(12):
        t2_next = ipd.lookahead(t1, t2, LR_IN, cfg, gen, agent=1)
        g1, _, _ = ipd.play(t1, t2_next, cfg["batch"], ROUNDS, GAMMA, gen)
        estimates.append(torch.autograd.grad(g1.surrogate(), t1)[0])
    est = torch.stack(estimates)
    mean, se = est.mean(0), est.std(0) / len(estimates) ** 0.5
    assert torch.all((mean - exact).abs() <= 4 * se + 1e-3), (mean, exact, se)
    # the look-ahead term is not negligible here: the estimate tells LOLA from the naive gradient
    assert (exact - naive).norm() > 8 * se.norm()
