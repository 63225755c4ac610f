"""Learning with opponent-learning awareness (LOLA) through second-order DiCE gradients, in the
iterated prisoner's dilemma (Foerster et al. 2018, "DiCE: The Infinitely Differentiable
Monte-Carlo Estimator", section 5).

    python examples/lola_dice_ipd.py               # LOLA-DiCE and naive learners, 200 updates each
    python examples/lola_dice_ipd.py --seeds 3     # seeds 0, 1, 2 of each
    python examples/lola_dice_ipd.py --quick       # a few short updates: checks that it runs

Two agents play 150 rounds (payoffs per round: both cooperate -1 each, both defect -2, a defector
against a cooperator 0 and -3). Each agent is a table of 5 logits: the probability of defecting at
the first round and after each of the 4 joint actions of the round before. One episode is one
seqrl.graph per agent on the same samples: a score-function node per round (both agents' actions,
log p = log p1(a1) + log p2(a2), as in the paper; its parent is the round before), the agent's
discounted cost -gamma^t r_t per round, depending on that round; baselines leave-one-out over
the 128 episodes of a batch (one joint node per round lets the baseline term reduce the variance
of the cross second-order terms that carry the look-ahead, as the paper's value baseline does).

A naive learner follows the gradient of its own expected return (Adam, lr 0.2, the settings of
the paper's experiment). A LOLA learner differentiates
its return after one gradient step of its opponent: theta2' = theta2 - lr_in * grad_2 L2, with
grad_2 L2 estimated by DiCE with create_graph=True, so that theta2' is a function of theta1 through
the second-order terms, and then theta1 follows d L1(theta1, theta2'(theta1)) / d theta1 on new
episodes. Naive learners end up defecting (about -2 per round); LOLA learners cooperate (about -1).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
import torch
from torch.distributions import Bernoulli, Independent

from seqrl.graph import Graph

# PAYOFF[a1, a2]: agent 1's reward; 0 = cooperate, 1 = defect. Agent 2's is the transpose.
PAYOFF = torch.tensor([[-1.0, -3.0], [0.0, -2.0]])
START = 4  # the state of the first round; states 0..3 are 2 * a1 + a2 of the round before


def play(theta1: torch.Tensor, theta2: torch.Tensor, batch: int, rounds: int, gamma: float,
         generator: torch.Generator, baseline: str = "loo") -> tuple[Graph, Graph, float]:
    """`batch` episodes of `rounds` rounds: each agent's graph over the same sampled actions, and
    the mean reward per round of agent 1 and 2 together (averaged)."""
    g1, g2 = Graph(baseline=baseline), Graph(baseline=baseline)
    state = torch.full((batch,), START, dtype=torch.long)
    previous: list[str] = []
    total = torch.zeros(())
    for t in range(rounds):
        # one node per round: both agents' actions, log p = log p1(a1) + log p2(a2)
        joint = Independent(Bernoulli(logits=torch.stack([theta1[state], theta2[state]], dim=-1)), 1)  # (B,), event 2
        a = _draw(joint.base_dist, generator)  # (B, 2): 1 = defect
        name = f"round_{t}"
        for g in (g1, g2):  # the same samples in both agents' graphs
            g.sample(name, joint, value=a, parents=previous)
        i1, i2 = a[:, 0].long(), a[:, 1].long()
        r1, r2 = PAYOFF[i1, i2], PAYOFF[i2, i1]  # (B,)
        g1.cost(f"r_{t}", -(gamma ** t) * r1, depends_on=[name])
        g2.cost(f"r_{t}", -(gamma ** t) * r2, depends_on=[name])
        total = total + (r1 + r2).mean() / 2
        state, previous = 2 * i1 + i2, [name]
    return g1, g2, float(total) / rounds


def _draw(d: Bernoulli, generator: torch.Generator) -> torch.Tensor:
    """A Bernoulli sample from an explicit generator (torch.distributions takes none)."""
    return (torch.rand(d.probs.shape, generator=generator) < d.probs).float()


def lookahead(own: torch.Tensor, other: torch.Tensor, lr_in: float, cfg: dict, generator: torch.Generator,
              agent: int) -> torch.Tensor:
    """The opponent's parameters after one of its DiCE gradient steps, differentiable in `own`."""
    t1, t2 = (own, other) if agent == 1 else (other, own)
    g1, g2, _ = play(t1, t2, cfg["batch"], cfg["rounds"], cfg["gamma"], generator)
    opponent_loss = (g2 if agent == 1 else g1).surrogate()
    (grad,) = torch.autograd.grad(opponent_loss, other, create_graph=True)
    return other - lr_in * grad


def train(lola: bool, iterations: int = 200, batch: int = 128, rounds: int = 150, gamma: float = 0.96,
          lr_out: float = 0.2, lr_in: float = 0.3, seed: int = 0) -> dict:
    """Both agents learn simultaneously (both LOLA or both naive); returns the reward curve."""
    generator = torch.Generator().manual_seed(seed)
    theta1 = torch.zeros(5, requires_grad=True)
    theta2 = torch.zeros(5, requires_grad=True)
    optimizers = [torch.optim.Adam([theta1], lr=lr_out), torch.optim.Adam([theta2], lr=lr_out)]
    cfg = {"batch": batch, "rounds": rounds, "gamma": gamma}
    curve, started = [], time.perf_counter()
    for _ in range(iterations):
        updates = []
        for agent, own, other in ((1, theta1, theta2), (2, theta2, theta1)):
            other_next = lookahead(own, other, lr_in, cfg, generator, agent) if lola else other
            t1, t2 = (own, other_next) if agent == 1 else (other_next, own)
            g1, g2, _ = play(t1, t2, batch, rounds, gamma, generator)
            (grad,) = torch.autograd.grad((g1 if agent == 1 else g2).surrogate(), own)
            updates.append(grad)
        for theta, grad, opt in zip((theta1, theta2), updates, optimizers):  # simultaneous updates
            theta.grad = grad
            opt.step()
        with torch.no_grad():
            _, _, mean_reward = play(theta1, theta2, batch, rounds, gamma, generator)
        curve.append(round(mean_reward, 4))
    p1, p2 = torch.sigmoid(theta1.detach()), torch.sigmoid(theta2.detach())
    return {"lola": lola, "seed": seed, "iterations": iterations, "seconds": round(time.perf_counter() - started, 1),
            "reward_per_round": curve, "final": sum(curve[-10:]) / len(curve[-10:]),
            "p_defect_agent1": [round(float(x), 3) for x in p1], "p_defect_agent2": [round(float(x), 3) for x in p2]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iterations", type=int, default=200)
    p.add_argument("--seeds", type=int, default=1, help="runs with seeds 0..N-1 of each kind of learner")
    p.add_argument("--quick", action="store_true", help="3 updates of 10-round games")
    p.add_argument("--run-dir", help="write results.json here")
    args = p.parse_args()
    torch.set_num_threads(1)
    kw = dict(iterations=3, rounds=10, batch=32) if args.quick else dict(iterations=args.iterations)
    rows = [train(lola, seed=seed, **kw) for lola in (True, False) for seed in range(args.seeds)]
    for r in rows:
        name = "LOLA-DiCE" if r["lola"] else "naive"
        curve = r["reward_per_round"]
        print(f"{name:>9} seed {r['seed']}: reward per round over the last 10 updates {r['final']:.3f}, best "
              f"{max(curve):.3f} ({r['seconds']:.0f} s); P(defect) of agent 1 {r['p_defect_agent1']}")
    if args.run_dir:
        Path(args.run_dir).mkdir(parents=True, exist_ok=True)
        (Path(args.run_dir) / "results.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
