"""seqrl.graph.measure: baselines compared on the same samples, nothing updated."""
import pytest
import torch
from torch.distributions import Categorical

from seqrl.graph import Graph, MovingAverage, measure

COST = torch.tensor([10.0, 11.0, 12.5, 9.0])  # a large common offset: what a baseline removes


def build(theta, ema=None, learned=None):
    def graph(r: int) -> Graph:
        torch.manual_seed(r)
        g = Graph(moving_average=ema)
        z = g.sample("z", Categorical(logits=theta), n=16, baseline=learned)
        g.cost("c", COST[z])
        return g
    return graph


def test_baselines_compared_on_the_same_samples_estimate_the_same_gradient_with_less_noise():
    theta = torch.zeros(4, requires_grad=True)
    ema = MovingAverage(values={"z": 10.6})
    s = measure(build(theta, ema), [theta], baselines=("none", "ema", "loo"), repeats=30)
    assert s["loo"]["total_variance"] < 0.1 * s["none"]["total_variance"]
    assert s["ema"]["total_variance"] < 0.1 * s["none"]["total_variance"]
    exact = torch.autograd.grad((theta.softmax(0) * COST).sum(), theta)[0]
    assert s["loo"]["cosine"] > s["none"]["cosine"]
    assert s["loo"]["mean_norm"] == pytest.approx(float(exact.norm()), rel=0.35)
    assert ema.values == {"z": 10.6}  # measuring reads the moving average, never moves it


def test_the_learned_override_needs_a_module_on_the_node():
    theta = torch.zeros(4, requires_grad=True)
    with pytest.raises(ValueError, match="no learned baseline"):
        measure(build(theta), [theta], baselines=("learned",), repeats=2)
    module = torch.nn.Linear(1, 1)
    s = measure(build(theta, learned=(module, torch.ones(1, 1))), [theta], baselines=("learned",), repeats=3)
    assert s["learned"]["estimates"] == 3
