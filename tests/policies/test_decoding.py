"""decoding: categorical sampling by inverse CDF, and the logging-only entropy."""
import pytest
import torch

from seqrl.policies.decoding import sample_categorical


def test_sample_categorical_matches_probabilities() -> None:
    probs = torch.tensor([0.5, 0.0, 0.2, 0.3, 0.0])
    logp = probs.log().expand(200_000, -1)
    draws = sample_categorical(logp, torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=5).double() / draws.numel()
    assert freq[1] == 0 and freq[4] == 0  # zero-probability tokens are never drawn
    # 5 standard errors of a binomial proportion at n=200k is < 0.006
    assert torch.allclose(freq, probs.double(), atol=0.006), freq


def test_sample_categorical_rows_are_independent_distributions() -> None:
    logp = torch.log_softmax(torch.tensor([[10.0, 0.0, 0.0], [0.0, 0.0, 10.0]]), dim=-1).repeat(5000, 1)
    draws = sample_categorical(logp, torch.Generator().manual_seed(1)).view(5000, 2)
    assert (draws[:, 0] == 0).float().mean() > 0.99
    assert (draws[:, 1] == 2).float().mean() > 0.99


def test_sample_categorical_same_seed_same_draws() -> None:
    logp = torch.log_softmax(torch.randn(64, 1000, generator=torch.Generator().manual_seed(2)), dim=-1)
    a = sample_categorical(logp, torch.Generator().manual_seed(3))
    b = sample_categorical(logp, torch.Generator().manual_seed(3))
    c = sample_categorical(logp, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_sample_categorical_refuses_nan_distributions() -> None:
    logp = torch.zeros(3, 4)
    logp[1, 2] = float("nan")
    with pytest.raises(RuntimeError, match="row 1 has no valid next-token distribution"):
        sample_categorical(logp, torch.Generator().manual_seed(0))
