"""TransformerSeq2Seq / TransformerLM: cached decoding matches teacher forcing, padding invariance."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from seqrl.policies import decoding
from seqrl.policies.base import AutoregressivePolicy
from seqrl.policies.transformer import TransformerConfig, TransformerLM, TransformerSeq2Seq
from seqrl.rollout import Batch, pad_sequences

VOCAB = 12
SOURCES = [[3, 4, 5, 6, 7, 8], [9], [5, 5, 10, 11], [4, 3]]  # mixed lengths, right-padded


def make(kind: str, dropout: float = 0.0, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=VOCAB, d_model=32, heads=2, layers=2, encoder_layers=2,
                            ff_dim=64, dropout=dropout, max_positions=64)
    net = TransformerSeq2Seq(cfg) if kind == "seq2seq" else TransformerLM(cfg)
    return net.eval()


def batch(sources: list[list[int]]) -> Batch:
    src, mask = pad_sequences(sources)
    return Batch(src=src, src_mask=mask)


KINDS = ["seq2seq", "lm"]


@pytest.mark.parametrize("kind", KINDS)
def test_is_step_model_with_attributes(kind: str) -> None:
    policy = AutoregressivePolicy(make(kind))
    assert policy.vocab_size == VOCAB and policy.feature_dim == 32


@pytest.mark.parametrize("kind", KINDS)
def test_sample_logprobs_match_score(kind: str) -> None:
    policy = AutoregressivePolicy(make(kind))
    inputs = batch(SOURCES)
    gen = torch.Generator().manual_seed(1)
    roll = policy.sample(inputs, k=3, max_len=10, generator=gen)
    lengths = roll.lengths
    assert (lengths < roll.tokens.shape[1]).any(), "want rows that stop at EOS early"
    assert (lengths == roll.tokens.shape[1]).any()
    with torch.no_grad():
        scored = policy.score(inputs, roll.tokens, roll.mask)
    assert scored.logprobs.dtype == torch.float32
    assert torch.isfinite(scored.logprobs).all()
    assert (scored.logprobs[~roll.mask] == 0).all()
    assert (scored.logprobs - roll.logprobs).abs().max().item() < 1e-5


@pytest.mark.parametrize("kind", KINDS)
def test_padding_invariance(kind: str) -> None:
    policy = AutoregressivePolicy(make(kind))
    alone = batch([SOURCES[1]])
    mixed = batch(SOURCES)  # row 1 is shorter than the others: padded in the batch
    g_alone = policy.greedy(alone, max_len=8)
    g_mixed = policy.greedy(mixed, max_len=8)
    t = g_alone.tokens.shape[1]
    assert torch.equal(g_alone.tokens[0], g_mixed.tokens[1, :t])
    assert not g_mixed.mask[1, t:].any()
    assert (g_alone.logprobs[0] - g_mixed.logprobs[1, :t]).abs().max().item() < 1e-6
    # Score the same tokens for a long input, alone and in a batch of shorter and longer inputs.
    tokens = torch.tensor([[5, 6, 7, 2, 0], [3, 2, 0, 0, 0], [8, 8, 8, 8, 8], [4, 2, 0, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0], [1] * 5, [1, 1, 0, 0, 0]], dtype=torch.bool)
    with torch.no_grad():
        s_mixed = policy.score(mixed, tokens, mask).logprobs
        for i in range(len(SOURCES)):
            s_alone = policy.score(batch([SOURCES[i]]), tokens[i : i + 1], mask[i : i + 1]).logprobs
            assert (s_alone[0] - s_mixed[i]).abs().max().item() < 1e-6


@pytest.mark.parametrize("kind", KINDS)
def test_cache_grows_and_step_matches_teacher(kind: str) -> None:
    net = make(kind)
    inputs = batch(SOURCES)
    prev = torch.tensor([[1, 3, 4, 5, 6], [1, 7, 2, 0, 0], [1, 8, 9, 10, 11], [1, 4, 4, 4, 4]])
    with torch.no_grad():
        state = net.encode(inputs.src, inputs.src_mask)
        teacher_logits, teacher_feat = net.teacher(state, prev)  # (N, T, V), (N, T, D)
        start = state["k0"].shape[2]
        if kind == "seq2seq":
            assert start == 0
            assert state["memory"].shape == (4, inputs.src.shape[1], 32)
            assert state["cross_k0"].shape == (4, 2, inputs.src.shape[1], 16)
        else:
            assert start == inputs.src.shape[1]
            assert torch.equal(state["pos"], inputs.src_mask.sum(dim=1))
            assert torch.equal(state["kv_mask"].sum(dim=1), inputs.src_mask.sum(dim=1))
        for t in range(prev.shape[1]):
            pos = state["pos"].clone()
            logits, feat, state = net.step(state, prev[:, t])
            for i in range(net.cfg.layers):
                assert state[f"k{i}"].shape == (4, 2, start + t + 1, 16)
                assert state[f"v{i}"].shape == (4, 2, start + t + 1, 16)
            assert state["kv_mask"].shape == (4, start + t + 1)
            assert torch.equal(state["pos"], pos + 1)
            assert (logits - teacher_logits[:, t]).abs().max().item() < 1e-5
            assert (feat - teacher_feat[:, t]).abs().max().item() < 1e-5
        # Rows repeat generically (repeat_state) without breaking anything.
        rep = decoding.repeat_state(state, 2)
        logits2, _, _ = net.step(rep, torch.full((8,), 2, dtype=torch.long))
        logits1, _, _ = net.step(state, torch.full((4,), 2, dtype=torch.long))
        assert (logits2 - logits1.repeat_interleave(2, dim=0)).abs().max().item() < 1e-5


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_reach_encoder_and_prompt(kind: str) -> None:
    net = make(kind).train()
    policy = AutoregressivePolicy(net)
    inputs = batch(SOURCES)
    tokens = torch.tensor([[5, 2], [6, 7], [2, 0], [8, 2], [3, 3], [4, 2], [2, 0], [9, 9]])
    mask = tokens != 0
    policy.score(inputs, tokens, mask).logprobs.sum().backward()
    grads = {n: p.grad for n, p in net.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    if kind == "seq2seq":
        assert grads["encoder.0.self_attn.query.weight"].abs().sum() > 0
        assert grads["enc_pos_embed.weight"].abs().sum() > 0
    # Gradient flows through the prefilled cache (the prompt) itself.
    state = net.encode(inputs.src, inputs.src_mask)
    key = "memory" if kind == "seq2seq" else "k0"
    logp = decoding.score(net, decoding.repeat_state(state, 2), tokens, mask).logprobs
    (g,) = torch.autograd.grad(logp.sum(), [state[key]])
    assert torch.isfinite(g).all() and g.abs().sum() > 0
    if kind == "lm":  # padded prompt positions are never attended: no gradient reaches them
        left_valid = state["kv_mask"]  # (B, S)
        assert (g.abs().sum(dim=(1, 3))[~left_valid] == 0).all()


@pytest.mark.parametrize("kind", KINDS)
def test_dropout_eval_is_deterministic(kind: str) -> None:
    net = make(kind, dropout=0.5)
    policy = AutoregressivePolicy(net)
    inputs = batch(SOURCES)
    tokens = torch.tensor([[5, 6, 2], [7, 2, 0], [3, 3, 3], [4, 2, 0]])
    mask = tokens != 0
    a = policy.score(inputs, tokens, mask).logprobs
    b = policy.score(inputs, tokens, mask).logprobs
    assert torch.equal(a, b)
    assert torch.equal(policy.greedy(inputs, 6).tokens, policy.greedy(inputs, 6).tokens)
    net.train()
    c = policy.score(inputs, tokens, mask).logprobs
    assert not torch.allclose(a, c)  # dropout is really there in training mode


def test_max_positions_guard() -> None:
    net = make("lm")
    state = net.encode(*pad_sequences([[3] * 60]))
    with pytest.raises(ValueError, match="max_positions"):
        net.teacher(state, torch.ones(1, 5, dtype=torch.long))


def test_empty_source_is_finite() -> None:
    for kind in KINDS:
        policy = AutoregressivePolicy(make(kind))
        src = torch.zeros(2, 3, dtype=torch.long)
        src_mask = torch.zeros(2, 3, dtype=torch.bool)
        src[1, :2], src_mask[1, :2] = torch.tensor([3, 4]), True
        roll = policy.sample(Batch(src, src_mask), k=2, max_len=4)
        assert torch.isfinite(roll.logprobs).all()
