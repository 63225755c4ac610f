"""Hugging Face models behind the StepModel protocol: tiny random GPT-2, T5 and BART built from
configs (nothing is downloaded)."""
import pytest
import torch

from seqrl.policies.base import AutoregressivePolicy
from seqrl.policies.decoding import output_logits
from seqrl.policies.hf import HFCausalLM, HFSeq2Seq, left_align, wrap_hf
from seqrl.rollout import Batch, pad_sequences

transformers = pytest.importorskip("transformers", reason="the `hf` extra is not installed")

PROMPTS = [[3, 4, 5, 6, 7], [8], [9, 10, 11]]


def gpt2(**overrides):
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=24, n_positions=64, n_embd=32, n_layer=2, n_head=2,
                                  bos_token_id=21, eos_token_id=23, pad_token_id=22, **overrides)
    return transformers.GPT2LMHeadModel(cfg).eval()


def t5():
    torch.manual_seed(1)
    cfg = transformers.T5Config(vocab_size=24, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                                decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    return transformers.T5ForConditionalGeneration(cfg).eval()


def bart():
    torch.manual_seed(2)
    cfg = transformers.BartConfig(vocab_size=24, d_model=32, encoder_layers=2, decoder_layers=2,
                                  encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                                  decoder_ffn_dim=64, max_position_embeddings=64, pad_token_id=1,
                                  bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)
    return transformers.BartForConditionalGeneration(cfg).eval()


def batch(model) -> Batch:
    src, mask = pad_sequences(PROMPTS, pad=model.config.pad_token_id)
    return Batch(src, mask)


def test_left_align_moves_tokens_to_the_right_end():
    ids, mask = pad_sequences([[5, 6, 7], [8], []], pad=0)
    aligned, new_mask = left_align(ids, mask, pad=0)
    assert aligned.tolist() == [[5, 6, 7], [0, 0, 8], [0, 0, 0]]
    assert new_mask.tolist() == [[True] * 3, [False, False, True], [False] * 3]


@pytest.mark.parametrize("build", [gpt2, t5, bart], ids=["gpt2", "t5", "bart"])
def test_sampled_logprobs_equal_teacher_forced_ones(build):
    model = build()
    policy = AutoregressivePolicy(wrap_hf(model))
    r = policy.sample(batch(model), 4, 7, temperature=1.3, generator=torch.Generator().manual_seed(0))
    scored = policy.score(batch(model), r.tokens, r.mask, temperature=1.3)
    assert (scored.logprobs - r.logprobs).abs().max() < 1e-5
    assert r.eos == model.config.eos_token_id and r.tokens.shape[0] == 12


def test_gpt2_completion_logprobs_do_not_depend_on_the_batch_padding():
    """Absolute positions: a prompt padded in a mixed-length batch must see positions 0..L-1,
    exactly as when it is run alone without padding (the missing-position_ids pitfall)."""
    model = gpt2()
    policy = AutoregressivePolicy(wrap_hf(model))
    r = policy.sample(batch(model), 2, 6, generator=torch.Generator().manual_seed(3))
    for row in range(r.tokens.shape[0]):
        prompt = PROMPTS[row // 2]
        completion = r.tokens[row][r.mask[row]].tolist()
        ids = torch.tensor([prompt + completion])
        with torch.no_grad():
            logits = output_logits(policy.network, model(input_ids=ids).logits[0])  # one unpadded row, PAD banned
            logp = torch.log_softmax(logits, dim=-1)
        expected = [float(logp[len(prompt) - 1 + t, tok]) for t, tok in enumerate(completion)]
        got = r.logprobs[row][r.mask[row]].tolist()
        assert max(abs(a - b) for a, b in zip(expected, got)) < 1e-5, row


@pytest.mark.parametrize("build", [gpt2, t5, bart], ids=["gpt2", "t5", "bart"])
def test_greedy_equals_generate(build):
    model = build()
    policy = AutoregressivePolicy(wrap_hf(model))
    greedy = policy.greedy(batch(model), 6)
    for row, prompt in enumerate(PROMPTS):
        ids = torch.tensor([prompt])
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=6, do_sample=False,
                             pad_token_id=model.config.pad_token_id)
        new = out[0, ids.shape[1]:] if not model.config.is_encoder_decoder else out[0, 1:]
        ours = greedy.tokens[row][greedy.mask[row]]
        assert ours.tolist() == new[: len(ours)].tolist(), (row, ours, new)


@pytest.mark.parametrize("build", [gpt2, t5], ids=["gpt2", "t5"])
def test_beam_of_width_one_is_greedy_and_wider_beams_score_higher(build):
    model = build()
    policy = AutoregressivePolicy(wrap_hf(model))
    greedy = policy.greedy(batch(model), 5)
    one = policy.beam(batch(model), 5, 1, length_penalty=0.0)
    assert torch.equal(one.tokens[one.mask], greedy.tokens[greedy.mask])
    wide = policy.beam(batch(model), 5, 4, length_penalty=0.0)
    assert (wide.logprobs.sum(dim=1) >= one.logprobs.sum(dim=1) - 1e-5).all()


def test_wrap_picks_the_adapter_and_special_ids():
    causal, seq2seq = wrap_hf(gpt2()), wrap_hf(t5())
    assert isinstance(causal, HFCausalLM) and isinstance(seq2seq, HFSeq2Seq)
    assert (causal.specials.pad, causal.specials.bos, causal.specials.eos) == (22, 21, 23)
    assert (seq2seq.specials.pad, seq2seq.specials.bos, seq2seq.specials.eos) == (0, 0, 1)
    assert causal.vocab_size == 24 and causal.feature_dim == 32


def test_fused_activations_compute_the_same_model():
    from seqrl.policies.hf_kernels import fuse_activations

    model = gpt2()  # activation_function="gelu_new": GPT-2's Python tanh-GELU
    ids = torch.tensor([[3, 4, 5, 6, 7, 8]])
    before = model(input_ids=ids).logits
    assert fuse_activations(model) == 2  # one per block
    assert fuse_activations(model) == 0  # nothing left to swap
    after = model(input_ids=ids).logits
    assert (after - before).abs().max() < 1e-5
    assert model.config.activation_function == "gelu_new"  # the exported config is untouched


@pytest.mark.parametrize("build", [t5, bart], ids=["t5", "bart"])
def test_seq2seq_static_state_is_input_only_and_not_reordering_it_changes_nothing(build, monkeypatch):
    from seqrl.policies.beam import beam_search
    from seqrl.policies.decoding import start_tokens

    net = wrap_hf(build())
    inputs = batch(net.model)
    static = net.static_state
    with torch.no_grad():
        state = net.encode(inputs.src, inputs.src_mask)
        _, _, first = net.step(state, start_tokens(net, state))
        _, _, second = net.step(first, torch.full((inputs.size,), 3))
    assert {"enc", "enc_mask"} < static < set(second)
    # the cross-attention cache is filled at the first step and passed through after it
    assert all(torch.equal(second[name], first[name]) for name in static)
    assert not any(torch.equal(second[name], first[name]) for name in set(second) - static)
    with torch.no_grad():
        fast = beam_search(net, net.encode(inputs.src, inputs.src_mask), 3, 6, 1.0, return_all=True)
        monkeypatch.setattr(net, "static_state", frozenset())  # every tensor reordered every step
        full = beam_search(net, net.encode(inputs.src, inputs.src_mask), 3, 6, 1.0, return_all=True)
    assert torch.equal(fast.tokens, full.tokens) and torch.equal(fast.mask, full.mask)
    assert torch.equal(fast.logprobs, full.logprobs)
