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
    from seqrl.rollout import pad_sequences

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


@pytest.mark.parametrize("kind", ["gru", "transformer"])
def test_pad_and_bos_are_never_output(kind) -> None:
    """Even a network that strongly prefers PAD and BOS never samples, chooses or beams them, and
    sampled log-probabilities still equal the teacher-forced ones (both renormalise without them)."""
    from seqrl.config import load_config
    from seqrl.rollout import Batch, pad_sequences
    from seqrl.sequences.build import build_policy
    from seqrl.vocab import BOS, PAD

    extra = ["model.kind=transformer", "model.heads=2"] if kind == "transformer" else []
    torch.manual_seed(0)
    policy = build_policy(load_config(None, ["model.hidden_dim=16", "model.embed_dim=8", *extra]), 8, 32)
    with torch.no_grad():  # push PAD and BOS up: rows of the output weight along the features
        head = policy.network.out if kind == "gru" else policy.network.head
        head.weight[PAD] = head.weight[3:].mean(0) * 20
        head.weight[BOS] = head.weight[3:].mean(0) * 20
    src, mask = pad_sequences([[3, 4, 5], [6, 7]])
    inputs = Batch(src, mask)
    rollout = policy.sample(inputs, 200, 6, generator=torch.Generator().manual_seed(0))
    emitted = rollout.tokens[rollout.mask]
    assert emitted.numel() > 1000 and not ((emitted == PAD) | (emitted == BOS)).any()
    for decoded in (policy.greedy(inputs, 6), policy.beam(inputs, 6, 4)):
        out = decoded.tokens[decoded.mask]
        assert out.numel() and not ((out == PAD) | (out == BOS)).any()
    teacher = policy.score(inputs, rollout.tokens, rollout.mask).logprobs
    assert torch.allclose(rollout.logprobs, teacher, atol=1e-5)


@pytest.mark.parametrize("every", [3, 8])
def test_reading_device_values_every_n_tokens_gives_the_same_rollout(every) -> None:
    """The GPU schedule (EOS, compaction and the NaN check read every N tokens, the uniforms of the
    whole rollout drawn at once) run on the CPU: the rollout of every-token checks, same width."""
    from seqrl.policies.decoding import decode_scored
    from seqrl.rollout import pad_sequences

    policy = _rnn_policy()
    src, mask = pad_sequences([[3, 4, 5], [6], [7, 8, 3, 4, 5], [5, 5]])
    state = policy.network.encode(src, mask)
    runs = [decode_scored(policy.network, state, 16, 11, 1.0, False, torch.Generator().manual_seed(4),
                          check_every=e)[0] for e in (1, every)]
    a, b = runs
    assert a.tokens.shape == b.tokens.shape and torch.equal(a.tokens, b.tokens) and torch.equal(a.mask, b.mask)
    assert torch.allclose(a.logprobs, b.logprobs, atol=1e-6)


def test_a_nan_distribution_is_named_whatever_the_check_schedule() -> None:
    from seqrl.policies.decoding import decode_scored
    from seqrl.rollout import pad_sequences

    policy = _rnn_policy()
    with torch.no_grad():
        policy.network.out.bias[4] = float("nan")
    src, mask = pad_sequences([[3, 4], [5]])
    state = policy.network.encode(src, mask)
    for every in (1, 8):
        with pytest.raises(RuntimeError, match="row 0 has no valid next-token distribution"):
            decode_scored(policy.network, state, 2, 6, 1.0, False, torch.Generator().manual_seed(0), check_every=every)
