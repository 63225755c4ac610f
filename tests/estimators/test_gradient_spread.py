"""The spread statistics of gradient estimates against their direct definitions."""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from seqrl.estimators import diagnostics as D


@settings(max_examples=60, deadline=None)
@given(m=st.integers(2, 9), p=st.integers(1, 40), seed=st.integers(0, 10_000), chunk=st.sampled_from([1, 3, 1 << 20]))
def test_spread_equals_the_direct_definitions(m, p, seed, chunk):
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(m, p, generator=gen) + torch.randn(p, generator=gen)  # noise around a common mean
    old, D.CHUNK = D.CHUNK, chunk  # the Gram matrix summed over parameter blocks of any size
    try:
        s = D.gradient_spread(list(g))
    finally:
        D.CHUNK = old
    g = g.double()
    mean = g.mean(0)
    assert s["total_variance"] == pytest.approx(float(g.var(0).sum()), rel=1e-9, abs=1e-12)
    assert s["mean_norm"] == pytest.approx(float(mean.norm()), rel=1e-9)
    assert s["cosine"] == pytest.approx(float(F.cosine_similarity(g, mean.unsqueeze(0)).mean()), rel=1e-7, abs=1e-9)
    assert s["snr"] == pytest.approx(float(mean.norm() / g.var(0).sum().sqrt()), rel=1e-7)
    assert s["estimates"] == m


def test_identical_estimates_have_no_variance_and_point_the_same_way():
    g = torch.tensor([1.0, -2.0, 0.5])
    s = D.gradient_spread([g, g.clone(), g.clone()])
    assert s["total_variance"] == pytest.approx(0.0, abs=1e-12) and s["cosine"] == pytest.approx(1.0)
    assert s["snr"] == math.inf or s["snr"] > 1e6


def test_one_estimate_is_refused():
    with pytest.raises(ValueError, match="at least 2"):
        D.gradient_spread([torch.zeros(3)])


def test_flat_grad_puts_zeros_where_a_parameter_is_unused():
    a, b = torch.nn.Parameter(torch.tensor([2.0, 3.0])), torch.nn.Parameter(torch.zeros(2))
    assert torch.equal(D.flat_grad((a ** 2).sum(), [a, b]), torch.tensor([4.0, 6.0, 0.0, 0.0]))
