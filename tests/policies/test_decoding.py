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


def _rnn_policy():
    from seqrl.policies.base import AutoregressivePolicy
    from seqrl.policies.rnn import RNNConfig, RNNSeq2Seq

    torch.manual_seed(0)
    return AutoregressivePolicy(RNNSeq2Seq(RNNConfig(vocab_size=9, embed_dim=12, hidden_dim=16)))


@pytest.mark.parametrize("greedy", [False, True])
def test_dropping_finished_rows_changes_no_draw(monkeypatch, greedy) -> None:
    """Compacting the decoding batch (COMPACT_BELOW) gives the rollout that decoding every row to
    the end gives: same tokens and mask, log-probs equal up to float rounding."""
    from seqrl.policies import decoding
    from seqrl.rollout import Batch, pad_sequences

    policy = _rnn_policy()
    src, mask = pad_sequences([[3, 4, 5], [6], [7, 8, 3, 4, 5], [5, 5]])
    forced, forced_len = torch.tensor([[3, 4], [5, 6], [7, 8], [3, 3]]), torch.tensor([2, 0, 1, 2])

    sizes: list[int] = []
    step = policy.network.step

    def counting_step(state, prev):
        sizes.append(prev.shape[0])
        return step(state, prev)

    monkeypatch.setattr(policy.network, "step", counting_step)

    def run():
        sizes.clear()
        with torch.no_grad():
            state = policy.network.encode(src, mask)
            return decoding.decode(policy.network, state, 1 if greedy else 16, 12, greedy=greedy,
                                   generator=torch.Generator().manual_seed(5),
                                   forced=forced.repeat_interleave(1 if greedy else 16, 0),
                                   forced_len=forced_len.repeat_interleave(1 if greedy else 16, 0))

    compacted = run()
    compacted_sizes = list(sizes)
    monkeypatch.setattr(decoding, "COMPACT_BELOW", 0.0)
    full = run()
    assert compacted_sizes[-1] < compacted_sizes[0] == sizes[-1]  # late steps ran fewer rows
    assert torch.equal(compacted.tokens, full.tokens) and torch.equal(compacted.mask, full.mask)
    assert torch.equal(compacted.forced, full.forced)
    assert (compacted.logprobs - full.logprobs).abs().max() < 1e-5
