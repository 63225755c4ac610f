"""Beam search for every policy type, checked against greedy decoding and exact enumeration.

With V = 6 tokens and at most L = 3 generated tokens there are 1 + 5 + 25 * 6 = 156 possible
rows, so a beam of that width searches the whole space and must agree with enumeration.
"""
from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from seqrl.policies.base import AutoregressivePolicy
from seqrl.policies.beam import beam_search, normalised_score
from seqrl.policies.decoding import start_tokens
from seqrl.policies.rnn import RNNConfig, RNNSeq2Seq
from seqrl.policies.transformer import TransformerConfig, TransformerLM, TransformerSeq2Seq
from seqrl.rollout import Batch, pad_sequences
from seqrl.vocab import EOS, PAD

V, L = 6, 3
SOURCES = [[3, 4, 5, 3], [5], [4, 3]]  # mixed lengths, right-padded
KINDS = ["gru", "lstm", "seq2seq", "lm"]


def make(kind: str, seed: int = 0) -> AutoregressivePolicy:
    torch.manual_seed(seed)
    if kind in ("gru", "lstm"):
        net: nn.Module = RNNSeq2Seq(RNNConfig(vocab_size=V, cell=kind, embed_dim=8, hidden_dim=8,
                                              layers=1 if kind == "gru" else 2))
    else:
        cfg = TransformerConfig(vocab_size=V, d_model=16, heads=2, layers=1, encoder_layers=1,
                                ff_dim=32, max_positions=32)
        net = TransformerSeq2Seq(cfg) if kind == "seq2seq" else TransformerLM(cfg)
        with torch.no_grad():  # the GPT init is nearly uniform: sharpen it so hypotheses differ
            for p in net.parameters():
                if p.dim() >= 2:
                    p.normal_(0.0, 0.4)
    return AutoregressivePolicy(net.eval())


def batch(sources: list[list[int]]) -> Batch:
    return Batch(*pad_sequences(sources))


def all_sequences() -> tuple[torch.Tensor, torch.Tensor]:
    """Every row decoding can produce: EOS-terminated before the budget, or any full row."""
    body_tokens = [t for t in range(V) if t != EOS]
    seqs = [list(body) + [EOS] for n in range(1, L) for body in itertools.product(body_tokens, repeat=n - 1)]
    seqs += [list(body) + [last] for body in itertools.product(body_tokens, repeat=L - 1) for last in range(V)]
    return pad_sequences(seqs)


def enumerate_scores(policy, inputs: Batch, alpha: float):
    """(B, M) normalised scores of all M sequences for each input, and the (M, L) sequences."""
    tokens, mask = all_sequences()
    b, m = inputs.size, tokens.shape[0]
    with torch.no_grad():
        lp = policy.score(inputs, tokens.repeat(b, 1), mask.repeat(b, 1)).logprobs
    return normalised_score(lp, mask.repeat(b, 1), alpha).view(b, m), tokens, mask


def rescore(policy, inputs: Batch, roll, alpha: float) -> torch.Tensor:
    with torch.no_grad():
        lp = policy.score(inputs, roll.tokens, roll.mask).logprobs
    return normalised_score(lp, roll.mask, alpha)


def rows(roll) -> list[list[int]]:
    return token_rows(roll.tokens, roll.mask)


def token_rows(tokens: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
    return [r[: int(n)] for r, n in zip(tokens.tolist(), mask.sum(dim=1).tolist())]


@pytest.fixture(scope="module", params=KINDS)
def policy(request) -> AutoregressivePolicy:
    return make(request.param)


def test_width_one_is_greedy(policy) -> None:
    inputs = batch(SOURCES)
    for max_len in (L, 6):
        g = policy.greedy(inputs, max_len)
        r = policy.beam(inputs, max_len, width=1, length_penalty=0.0)
        assert r.k == 1 and torch.equal(r.tokens, g.tokens) and torch.equal(r.mask, g.mask)
        assert (r.logprobs - g.logprobs).abs().max().item() < 1e-6


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_exhaustive_beam_matches_enumeration(policy, alpha: float) -> None:
    inputs = batch(SOURCES)
    scores, tokens, mask = enumerate_scores(policy, inputs, alpha)
    m = tokens.shape[0]
    assert m == 156
    top2 = scores.topk(2, dim=1).values
    assert (top2[:, 0] - top2[:, 1] > 1e-4).all(), "fixture has near-ties: results would be fragile"
    best = policy.beam(inputs, L, width=m, length_penalty=alpha)
    for i in range(inputs.size):
        j = int(scores[i].argmax())
        assert rows(best)[i] == tokens[j, : int(mask[j].sum())].tolist()
    # return_all with a beam over the whole space returns every sequence, sorted best first.
    state = policy.network.encode(inputs.src, inputs.src_mask)
    everything = beam_search(policy.network, state, m, L, alpha, return_all=True)
    assert everything.k == m and everything.tokens.shape == (inputs.size * m, L)
    got = normalised_score(everything.logprobs, everything.mask, alpha).view(inputs.size, m)
    assert (got[:, :-1] >= got[:, 1:] - 1e-6).all()
    expected = scores.sort(dim=1, descending=True).values
    assert (got - expected).abs().max().item() < 1e-5
    all_rows = rows(everything)
    for i in range(inputs.size):
        assert sorted(all_rows[i * m : (i + 1) * m]) == sorted(token_rows(tokens, mask))


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_wider_beams_never_worse_than_greedy(policy, alpha: float) -> None:
    inputs = batch(SOURCES)
    max_len = 5
    greedy = rescore(policy, inputs, policy.greedy(inputs, max_len), alpha)
    for width in (2, 3, 6):
        found = rescore(policy, inputs, policy.beam(inputs, max_len, width, alpha), alpha)
        assert (found >= greedy - 1e-5).all()


def test_logprobs_match_teacher_forcing_and_padding_conventions(policy) -> None:
    inputs = batch(SOURCES)
    state = policy.network.encode(inputs.src, inputs.src_mask)
    r = beam_search(policy.network, state, 4, 5, 1.0, return_all=True)
    assert r.k == 4 and r.tokens.shape[0] == 12
    assert not r.forced.any() and (r.logprobs[~r.mask] == 0).all()
    with torch.no_grad():
        scored = policy.score(inputs, r.tokens, r.mask).logprobs
    assert (scored - r.logprobs).abs().max().item() < 1e-5
    for row, m in zip(r.tokens.tolist(), r.mask.tolist()):
        assert m[0]
        if EOS in row:
            end = row.index(EOS)
            assert all(m[: end + 1]) and not any(m[end + 1 :])
            assert all(t == PAD for t in row[end + 1 :])
        else:
            assert all(m) and len(row) == 5
    scores = normalised_score(r.logprobs, r.mask, 1.0).view(3, 4)
    assert (scores[:, :-1] >= scores[:, 1:] - 1e-6).all()  # best first
    hyps = rows(r)
    assert all(len({tuple(x) for x in hyps[i * 4 : i * 4 + 4]}) == 4 for i in range(3))  # distinct


def test_batch_invariance(policy) -> None:
    inputs = batch(SOURCES)
    together = policy.beam(inputs, 5, width=3)
    for i, src in enumerate(SOURCES):
        alone = policy.beam(batch([src]), 5, width=3)
        n = int(alone.lengths[0])
        assert rows(alone)[0] == rows(together)[i]
        assert (alone.logprobs[0, :n] - together.logprobs[i, :n]).abs().max().item() < 1e-5


class _Counting(nn.Module):
    """Delegates to a StepModel and counts decoding steps."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net, self.vocab_size, self.feature_dim, self.steps = net, net.vocab_size, net.feature_dim, 0

    def encode(self, src, src_mask):
        return self.net.encode(src, src_mask)

    def step(self, state, prev):
        self.steps += 1
        return self.net.step(state, prev)

    def teacher(self, state, prev):
        return self.net.teacher(state, prev)


def test_stops_once_the_pool_cannot_be_beaten() -> None:
    policy = make("gru")
    with torch.no_grad():  # EOS nearly certain: two finished hypotheses beat anything longer
        policy.network.out.bias.fill_(-20.0)
        policy.network.out.bias[EOS] = 20.0
    counting = _Counting(policy.network)
    inputs = batch(SOURCES)
    r = beam_search(counting, counting.encode(inputs.src, inputs.src_mask), 2, 20, 0.0)
    assert counting.steps == 2
    assert r.tokens.shape == (3, 1) and (r.tokens == EOS).all()


def test_rejects_bad_arguments() -> None:
    policy = make("gru")
    with pytest.raises(ValueError, match="beam"):
        policy.beam(batch(SOURCES), 4, width=0)
    with pytest.raises(ValueError, match="max_len"):
        policy.beam(batch(SOURCES), 0, width=2)


@pytest.mark.parametrize("kind", ["gru", "lstm", "seq2seq"])
def test_static_state_is_input_only_and_not_reordering_it_changes_nothing(kind: str) -> None:
    net = make(kind).network
    inputs = batch(SOURCES)
    state = net.encode(inputs.src, inputs.src_mask)
    static = net.static_state
    assert static and static < set(state)  # memory is static, the decoder's own state is not
    with torch.no_grad():
        _, _, new = net.step(state, start_tokens(net, state))
    assert all(new[name] is state[name] for name in static)  # step passes it through
    # _Counting hides static_state, so that search reorders every tensor at every step.
    for width, alpha in ((3, 1.0), (5, 0.0)):
        fast = beam_search(net, net.encode(inputs.src, inputs.src_mask), width, 6, alpha, return_all=True)
        full = beam_search(_Counting(net), net.encode(inputs.src, inputs.src_mask), width, 6, alpha, return_all=True)
        assert torch.equal(fast.tokens, full.tokens) and torch.equal(fast.mask, full.mask)
        assert torch.equal(fast.logprobs, full.logprobs)
