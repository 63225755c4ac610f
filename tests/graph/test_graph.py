"""The stochastic-computation-graph surrogate against exact enumeration: unbiased first-order
gradients for each baseline (a mixed discrete + reparameterised graph), unbiased second-order
DiCE gradients, and the dependency rule's lower variance."""
from __future__ import annotations

import itertools

import pytest
import torch
from torch.distributions import Categorical, Normal

from seqrl.graph import Graph, MovingAverage, magic_box

F = torch.tensor([1.0, -2.0, 0.5])  # cost of z1 alone
G = torch.tensor([[0.0, 3.0], [1.0, -1.0], [2.0, 0.5]])  # cost of (z1, z2)


def params(seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(3, generator=gen).requires_grad_(), torch.randn(3, 2, generator=gen).requires_grad_(),
            torch.randn((), generator=gen).requires_grad_()]


def exact_cost(t1: torch.Tensor, t2: torch.Tensor, mu: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """E[F(z1) + G(z1, z2) + (x - z2)^2], z1 ~ Cat(t1), z2 ~ Cat(t2[z1]), x ~ N(mu, 1)."""
    p1, p2 = t1.softmax(0), t2.softmax(1)
    total = torch.zeros(())
    for a, b in itertools.product(range(3), range(2)):
        total = total + p1[a] * p2[a, b] * (scale * F[a] + G[a, b] + (mu - b) ** 2 + 1.0)
    return total


def surrogate(theta, n: int, baseline: str = "none", exact_deps: bool = True, ema=None,
              scale: float = 1.0) -> torch.Tensor:
    t1, t2, mu = theta
    g = Graph(baseline=baseline, moving_average=ema)
    z1 = g.sample("z1", Categorical(logits=t1), n=n)  # (n,)
    z2 = g.sample("z2", Categorical(logits=t2[z1]), parents=["z1"])  # (n,)
    x = g.sample("x", Normal(mu, 1.0), n=n)  # (n,) reparameterised: pathwise
    g.cost("pair", G[z1, z2] + (x - z2.float()) ** 2, depends_on=["z2", "x"] if exact_deps else None)
    g.cost("first", scale * F[z1], depends_on=["z1"] if exact_deps else None)  # registered last: by default it
    return g.surrogate()  # would also weigh z2's score, which cannot influence it


def estimates(baseline: str, reps: int, n: int, exact_deps: bool = True, order: int = 1, scale: float = 1.0):
    theta = params()
    v = [torch.ones_like(p) for p in theta]
    torch.manual_seed(1)
    ema = MovingAverage(decay=0.5) if baseline == "ema" else None
    out = []
    for _ in range(reps):
        grads = torch.autograd.grad(surrogate(theta, n, baseline, exact_deps, ema, scale), theta,
                                    create_graph=order > 1)
        if order > 1:  # Hessian-vector product with v = ones
            grads = torch.autograd.grad(sum((g * w).sum() for g, w in zip(grads, v)), theta)
        out.append(torch.cat([g.flatten() for g in grads]))
    return torch.stack(out), theta, v


def exact(theta, v, order: int = 1, scale: float = 1.0) -> torch.Tensor:
    grads = torch.autograd.grad(exact_cost(*theta, scale=scale), theta, create_graph=order > 1)
    if order > 1:
        grads = torch.autograd.grad(sum((g * w).sum() for g, w in zip(grads, v)), theta)
    return torch.cat([g.flatten() for g in grads])


@pytest.mark.parametrize("baseline", ["none", "ema", "loo"])
def test_first_order_gradients_are_unbiased_for_every_baseline(baseline):
    est, theta, v = estimates(baseline, reps=40, n=4000)
    mean, se = est.mean(0), est.std(0) / 40 ** 0.5
    want = exact(theta, v)
    assert ((mean - want).abs() <= 4 * se + 1e-3).all(), (mean, want, se)


def test_second_order_dice_gradients_are_unbiased():
    est, theta, v = estimates("loo", reps=40, n=4000, order=2)
    mean, se = est.mean(0), est.std(0) / 40 ** 0.5
    want = exact(theta, v, order=2)
    assert ((mean - want).abs() <= 4 * se + 1e-3).all(), (mean, want, se)


def test_the_dependency_rule_lowers_variance_without_bias():
    """A large cost of z1 alone, registered after z2: weighting z2's score by the total cost (the
    default when dependencies are not named) adds its noise to z2's gradient; naming them does not."""
    exact_deps, theta, v = estimates("none", reps=40, n=2000, exact_deps=True, scale=10.0)
    all_deps, _, _ = estimates("none", reps=40, n=2000, exact_deps=False, scale=10.0)
    want = exact(theta, v, scale=10.0)
    for est in (exact_deps, all_deps):
        assert ((est.mean(0) - want).abs() <= 4 * est.std(0) / 40 ** 0.5 + 1e-3).all()
    z2_logits = slice(3, 9)  # t2's gradient: the cost of z1 alone only adds noise to it
    assert exact_deps[:, z2_logits].var(0).sum() < 0.5 * all_deps[:, z2_logits].var(0).sum()


def test_the_surrogate_evaluates_to_the_mean_cost_and_magic_box_to_one():
    theta = params()
    torch.manual_seed(0)
    g = Graph(baseline="loo")
    z = g.sample("z", Categorical(logits=theta[0]), n=5)
    g.cost("f", F[z])
    assert float(g.surrogate().detach()) == pytest.approx(float(F[z].mean()))
    x = torch.tensor(0.3, requires_grad=True)
    box = magic_box(x * 2)
    (d,) = torch.autograd.grad(box, x)
    assert float(box.detach()) == 1.0 and float(d) == pytest.approx(2.0)


def test_misuse_is_named():
    g = Graph()
    with pytest.raises(ValueError, match="names nodes that were not sampled before it"):
        g.cost("c", torch.zeros(()), depends_on=["nope"])
    with pytest.raises(ValueError, match="no cost"):
        g.surrogate()
    with pytest.raises(ValueError, match="needs a MovingAverage"):
        Graph(baseline="ema")
    g.sample("z", Categorical(logits=torch.zeros(2)))
    with pytest.raises(ValueError, match="sampled twice"):
        g.sample("z", Categorical(logits=torch.zeros(2)))
    with pytest.raises(ValueError, match="has no rsample"):
        g.sample("w", Categorical(logits=torch.zeros(2)), score=False)
    g.sample("y", Categorical(logits=torch.zeros(2)), n=3)  # log-prob (3,)
    g.cost("c", torch.zeros(4))
    with pytest.raises(ValueError, match=r"broadcast to one shape.*cost 'c' \(4,\).*node 'y' log-prob \(3,\)"):
        g.surrogate()
    h = Graph()
    h.sample("z", Categorical(logits=torch.zeros(2)))
    h.cost("c", torch.zeros(()))
    with pytest.raises(ValueError, match="no learned baseline"):
        h.surrogate(baseline="learned")


def test_leave_one_out_subtracts_the_mean_downstream_cost_of_the_other_samples():
    """Its gradient is -log p(z_i) (Q_i - mean_{j != i} Q_j) / N per sample: checked exactly."""
    logits = torch.tensor([0.2, -0.4, 1.0], requires_grad=True)
    torch.manual_seed(3)
    g = Graph(baseline="loo")
    z = g.sample("z", Categorical(logits=logits), n=4)
    q = F[z]
    g.cost("f", q)
    (got,) = torch.autograd.grad(g.surrogate(), logits)
    others = (q.sum() - q) / 3
    logp = Categorical(logits=logits).log_prob(z)
    (want,) = torch.autograd.grad((logp * (q - others)).mean(), logits)
    assert torch.allclose(got, want, atol=1e-6)


def test_a_learned_baseline_is_unbiased_and_isolated_both_ways():
    theta = params()
    t1, t2, mu = theta
    net = torch.nn.Linear(3, 1)
    torch.manual_seed(4)
    ests, losses_ = [], []
    for _ in range(40):
        g = Graph()
        z1 = g.sample("z1", Categorical(logits=t1), n=4000)
        onehot = torch.nn.functional.one_hot(z1, 3).float()  # z2's baseline input: z1, not z2 itself
        z2 = g.sample("z2", Categorical(logits=t2[z1]), parents=["z1"], baseline=(net, onehot))
        x = g.sample("x", Normal(mu, 1.0), n=4000)
        g.cost("pair", G[z1, z2] + (x - z2.float()) ** 2, depends_on=["z2", "x"])
        g.cost("first", F[z1], depends_on=["z1"])
        surrogate_, b_loss = g.surrogate(), g.baseline_loss()
        losses_.append(float(b_loss.detach()))
        # isolation: the surrogate does not reach the baseline module, its loss does not reach theta
        assert all(gr is None for gr in torch.autograd.grad(surrogate_, list(net.parameters()), retain_graph=True,
                                                              allow_unused=True))
        assert all(gr is None for gr in torch.autograd.grad(b_loss, theta, retain_graph=True, allow_unused=True))
        ests.append(torch.cat([gr.flatten() for gr in torch.autograd.grad(surrogate_, theta)]))
        net.zero_grad()
        b_loss.backward()
        with torch.no_grad():
            for p_ in net.parameters():
                p_ -= 0.5 * p_.grad
    est = torch.stack(ests)
    want = exact(theta, None)
    assert ((est.mean(0) - want).abs() <= 4 * est.std(0) / 40 ** 0.5 + 1e-3).all()
    assert losses_[-1] < 0.85 * losses_[0]  # and it learned (the rest is the cost's own noise, from x)
