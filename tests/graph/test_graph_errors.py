"""seqrl.graph misuse is named at the call that is wrong, in one line: the node or cost, what was
expected and what was given; silent mistakes (NaN costs, a cost averaged over a loo node's
samples, an ema baseline moved twice) are refused or fixed."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Bernoulli, Categorical, Normal

from seqrl.graph import Graph, MovingAverage


def _logits():
    return torch.zeros(3, requires_grad=True)


@pytest.mark.parametrize("bad", [1.5, [1.0, 2.0], 3, torch.tensor([1, 2]), torch.tensor([True]), "x"])
def test_a_cost_that_is_not_a_float_tensor_is_named(bad):
    g = Graph()
    g.sample("z", Categorical(logits=_logits()), n=4)
    with pytest.raises(TypeError, match=r"cost 'c': expected a floating-point tensor \(e.g. \(n, B\)\), got "):
        g.cost("c", bad)


@pytest.mark.parametrize("dist", [torch.zeros(3), None, "normal", 0.5])
def test_a_distribution_that_is_not_one_is_named(dist):
    with pytest.raises(TypeError, match=r"node 'z': expected a torch.distributions.Distribution, got "):
        Graph().sample("z", dist)


def test_loo_without_samples_is_named_at_sample():
    with pytest.raises(ValueError, match=r"node 'z': the loo baseline compares n >= 2 samples"):
        Graph(baseline="loo").sample("z", Bernoulli(logits=torch.zeros(())))
    with pytest.raises(ValueError, match=r"node 'z': n must be a positive int"):
        Graph().sample("z", Bernoulli(logits=torch.zeros(())), n=0)
    Graph(baseline="loo").sample("x", Normal(torch.zeros(()), 1.0))  # pathwise: no baseline at all


@settings(max_examples=25, deadline=None)
@given(count=st.integers(1, 5), where=st.integers(0, 7))
def test_a_non_finite_cost_is_named_with_its_count(count, where):
    g = Graph()
    z = g.sample("z", Bernoulli(logits=torch.zeros(8, requires_grad=True)), n=2)
    value = z.clone()
    value.view(-1)[[(where + i) % 16 for i in range(count)]] = float("nan")
    g.cost("c", value)
    with pytest.raises(ValueError, match=rf"cost 'c' has {count} non-finite value\(s\) \(NaN/inf\) of 16"):
        g.surrogate()


def test_a_cost_averaged_over_a_loo_node_s_samples_is_refused():
    g = Graph(baseline="loo")
    z = g.sample("z", Categorical(logits=_logits()), n=8)
    g.cost("c", (z == 2).float().mean(0))  # the sample dimension averaged away: gradient exactly 0
    with pytest.raises(ValueError, match=r"cost 'c' \(shape \(\)\) cannot give per-sample credit to node 'z' "
                                         r"\(loo baseline over n=8 samples\)"):
        g.surrogate()
    ok = Graph(baseline="loo")
    z = ok.sample("z", Categorical(logits=_logits()), n=8)
    ok.cost("c", (z == 2).float())
    ok.surrogate().backward()


def test_the_moving_average_moves_once_per_graph():
    avg = MovingAverage(decay=0.5)
    g = Graph(baseline="ema", moving_average=avg)
    z = g.sample("z", Bernoulli(logits=torch.zeros(4, requires_grad=True)), n=3)
    g.cost("c", z + 1.0)
    g.surrogate()
    after_one = avg.get("z")
    g.surrogate()
    g.backward()
    assert avg.get("z") == after_one
