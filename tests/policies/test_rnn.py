import pytest
import torch

from seqrl.policies.base import AutoregressivePolicy
from seqrl.policies.rnn import RNNConfig, RNNSeq2Seq
from seqrl.rollout import Batch, pad_sequences
from seqrl.vocab import EOS, PAD


def _policy(cell: str, layers: int = 1) -> AutoregressivePolicy:
    torch.manual_seed(0)
    return AutoregressivePolicy(RNNSeq2Seq(RNNConfig(vocab_size=9, cell=cell, embed_dim=12, hidden_dim=16, layers=layers)))


def _batch() -> Batch:
    src, mask = pad_sequences([[3, 4, 5], [6], [7, 8, 3, 4, 5]])
    return Batch(src, mask)


@pytest.mark.parametrize("cell,layers", [("gru", 1), ("lstm", 2)])
def test_sampled_logprobs_equal_teacher_forced(cell, layers):
    policy = _policy(cell, layers)
    r = policy.sample(_batch(), 4, 8, temperature=1.3, generator=torch.Generator().manual_seed(0))
    scored = policy.score(_batch(), r.tokens, r.mask, temperature=1.3)
    assert (scored.logprobs - r.logprobs).abs().max() < 1e-5
    assert r.tokens.shape[0] == 12 and r.k == 4


def test_everything_after_eos_is_masked_and_padded():
    policy = _policy("gru")
    r = policy.sample(_batch(), 16, 10, generator=torch.Generator().manual_seed(1))
    for row, mask in zip(r.tokens.tolist(), r.mask.tolist()):
        if EOS in row:
            end = row.index(EOS)
            assert all(mask[: end + 1]) and not any(mask[end + 1 :])
            assert all(t == PAD for t in row[end + 1 :])
        else:
            assert all(mask)
    assert (r.logprobs[~r.mask] == 0).all()


def test_decoding_stops_when_every_row_has_ended():
    policy = _policy("gru")
    with torch.no_grad():  # make EOS certain
        policy.network.out.bias.fill_(-50.0)
        policy.network.out.bias[EOS] = 50.0
    r = policy.sample(_batch(), 2, 20)
    assert r.tokens.shape[1] == 1 and (r.tokens == EOS).all()


def test_same_generator_seed_same_samples_and_temperature_sharpens():
    policy = _policy("gru")
    a = policy.sample(_batch(), 8, 6, generator=torch.Generator().manual_seed(5))
    b = policy.sample(_batch(), 8, 6, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.tokens, b.tokens)
    greedy = policy.greedy(_batch(), 6)
    cold = policy.sample(_batch(), 1, 6, temperature=1e-3, generator=torch.Generator().manual_seed(2))
    assert torch.equal(cold.tokens, greedy.tokens)


def test_forced_prefix_is_taken_from_reference():
    policy = _policy("lstm")
    ref, _ = pad_sequences([[4, 4, 4, EOS], [5, EOS], [6, 6, 6, 6]])
    forced_len = torch.tensor([2, 2, 3])
    r = policy.sample(_batch(), 3, 6, forced=ref, forced_len=forced_len, generator=torch.Generator().manual_seed(0))
    for i in range(9):
        n = int(forced_len[i // 3])
        assert r.tokens[i, :n].tolist() == ref[i // 3, :n].tolist()
        assert r.forced[i, :n].all() and not r.forced[i, n:].any()
    assert (r.tokens[3:6, 2:] == PAD).all()  # forced EOS ends the row


def test_batch_invariance_of_scores():
    policy = _policy("gru")
    r = policy.greedy(_batch(), 6)
    alone = Batch(*pad_sequences([[6]]))
    r1 = policy.greedy(alone, 6)
    assert r1.tokens[0, : r1.lengths[0]].tolist() == r.tokens[1, : r.lengths[1]].tolist()


def test_logging_only_entropy_equals_differentiable_entropy():
    policy = _policy("gru")
    r = policy.sample(_batch(), 3, 8, generator=torch.Generator().manual_seed(2))
    with_grad = policy.score(_batch(), r.tokens, r.mask, temperature=0.7)
    logged = policy.score(_batch(), r.tokens, r.mask, temperature=0.7, entropy_grad=False)
    assert with_grad.entropy.requires_grad and not logged.entropy.requires_grad
    assert torch.allclose(with_grad.entropy, logged.entropy)
    assert logged.logprobs.requires_grad  # the loss still has its graph
