"""Hugging Face models as StepModels: any `AutoModelForCausalLM` (prompt -> completion) or
`AutoModelForSeq2SeqLM` (source -> target), so every baseline, reward and curriculum of seqrl
works on them through `AutoregressivePolicy`.

Decoding uses the model's key/value cache. The cache lives in the decoding state as plain
batch-first tensors (`k{i}`/`v{i}` per layer; `xk{i}`/`xv{i}` for an encoder-decoder's
cross-attention), so sampling k rows per input, beam reordering and teacher-forced scoring work
exactly as for seqrl's own networks; each call rebuilds a `DynamicCache` around them.

Causal LMs: prompts arrive right-padded and are moved to the right end of the row (left
padding). Every position id is derived from the attention mask (`cumsum - 1`), so models with
absolute positions (GPT-2) see the same positions for a prompt whatever the batch's padding: the
log-probabilities of a completion do not depend on its neighbours (tested against an unpadded
forward). The prompt minus its last token is prefilled in `encode`; the last prompt token is the
first decoder input (`start`). Teacher-forced scoring continues from the prefilled cache, so a
prompt is run once per input, not once per sample.
"""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor, nn

from seqrl.policies.protocol import State
from seqrl.vocab import Specials


def _cache_state(cache: Any, prefix: str = "") -> State:
    """A DynamicCache's per-layer keys/values as state tensors (B, heads, T, head_dim)."""
    out: State = {}
    for i, layer in enumerate(cache.layers):
        if getattr(layer, "keys", None) is not None and layer.keys.numel():
            out[f"{prefix}k{i}"], out[f"{prefix}v{i}"] = layer.keys, layer.values
    return out


def _dynamic_cache(state: State, layers: int, prefix: str = ""):
    from transformers import DynamicCache

    if f"{prefix}k0" not in state:
        return DynamicCache()
    return DynamicCache([(state[f"{prefix}k{i}"], state[f"{prefix}v{i}"]) for i in range(layers)])


def left_align(ids: Tensor, mask: Tensor, pad: int) -> tuple[Tensor, Tensor]:
    """(B, S) right-padded rows -> the same tokens moved to the right end (left padding)."""
    lengths = mask.sum(dim=1, keepdim=True)  # (B, 1)
    s = ids.shape[1]
    index = (torch.arange(s, device=ids.device).unsqueeze(0) - (s - lengths)) % s  # source column
    aligned = ids.gather(1, index)
    new_mask = torch.arange(s, device=ids.device).unsqueeze(0) >= (s - lengths)
    return torch.where(new_mask, aligned, torch.full_like(aligned, pad)), new_mask


def hf_specials(model: Any, tokenizer: Any = None) -> Specials:
    """PAD/BOS/EOS of a Hugging Face model (BOS: the decoder start token for encoder-decoders)."""
    cfg = model.config
    eos = cfg.eos_token_id if cfg.eos_token_id is not None else getattr(tokenizer, "eos_token_id", None)
    if isinstance(eos, (list, tuple)):
        eos = eos[0]
    if eos is None:
        raise ValueError("the model has no eos_token_id (set it in its config or tokenizer)")
    pad = cfg.pad_token_id if cfg.pad_token_id is not None else getattr(tokenizer, "pad_token_id", None)
    bos = getattr(cfg, "decoder_start_token_id", None) if cfg.is_encoder_decoder else cfg.bos_token_id
    if bos is None:
        bos = getattr(tokenizer, "bos_token_id", None)
    return Specials(pad=eos if pad is None else int(pad), bos=eos if bos is None else int(bos), eos=int(eos))


class HFCausalLM(nn.Module):
    """A decoder-only Hugging Face model over [prompt, completion]."""

    def __init__(self, model: nn.Module, specials: Specials) -> None:
        super().__init__()
        self.model = model
        cfg = model.config.get_text_config()
        self.specials = specials
        self.vocab_size = int(model.get_output_embeddings().out_features)
        self.feature_dim = int(cfg.hidden_size)
        self.layers = int(cfg.num_hidden_layers)

    def encode(self, src: Tensor, src_mask: Tensor) -> State:
        """(B, S) right-padded prompts -> cache of every prompt token but the last."""
        ids, mask = left_align(src, src_mask, self.specials.pad)
        empty = ~mask[:, -1]  # an empty prompt starts from BOS
        first = torch.where(empty, torch.full_like(ids[:, -1], self.specials.bos), ids[:, -1])
        prefix, pmask = ids[:, :-1], mask[:, :-1]
        state: State = {"attn": pmask.long(), "pos": pmask.sum(dim=1), "first": first}
        if prefix.shape[1] > 0:
            positions = (pmask.long().cumsum(dim=1) - 1).clamp(min=0)
            out = self.model(input_ids=prefix, attention_mask=pmask.long(), position_ids=positions, use_cache=True)
            state.update(_cache_state(out.past_key_values))
        return state

    def start(self, state: State) -> Tensor:
        return state["first"]

    def _forward(self, state: State, tokens: Tensor, use_cache: bool):
        n, t = tokens.shape
        attn = torch.cat([state["attn"], torch.ones(n, t, dtype=state["attn"].dtype, device=tokens.device)], dim=1)
        positions = state["pos"].unsqueeze(1) + torch.arange(t, device=tokens.device).unsqueeze(0)
        out = self.model(input_ids=tokens, attention_mask=attn, position_ids=positions,
                         past_key_values=_dynamic_cache(state, self.layers), use_cache=use_cache,
                         output_hidden_states=True)
        return out, attn

    def step(self, state: State, prev: Tensor) -> tuple[Tensor, Tensor, State]:
        out, attn = self._forward(state, prev.unsqueeze(1), use_cache=True)
        new: State = {"attn": attn, "pos": state["pos"] + 1, "first": state["first"]}
        new.update(_cache_state(out.past_key_values))
        return out.logits[:, -1], out.hidden_states[-1][:, -1], new

    def teacher(self, state: State, prev: Tensor) -> tuple[Tensor, Tensor]:
        out, _ = self._forward(state, prev, use_cache=False)
        return out.logits, out.hidden_states[-1]


class HFSeq2Seq(nn.Module):
    """An encoder-decoder Hugging Face model (T5, BART, Marian, ...)."""

    def __init__(self, model: nn.Module, specials: Specials) -> None:
        super().__init__()
        self.model = model
        cfg = model.config
        self.specials = specials
        self.vocab_size = int(model.get_output_embeddings().out_features)
        self.feature_dim = int(getattr(cfg, "d_model", None) or cfg.hidden_size)
        self.layers = int(getattr(cfg, "decoder_layers", None) or getattr(cfg, "num_decoder_layers", None)
                          or cfg.num_layers)
        # Encoder output and the cross-attention cache (filled at the first step from the
        # encoder output) depend on the source only: beam search does not reorder them.
        cross = (f"x{kv}{i}" for i in range(self.layers) for kv in "kv")
        self.static_state = frozenset(("enc", "enc_mask", *cross))

    def encode(self, src: Tensor, src_mask: Tensor) -> State:
        enc = self.model.get_encoder()(input_ids=src, attention_mask=src_mask.long()).last_hidden_state
        return {"enc": enc, "enc_mask": src_mask.long()}  # (B, S, H), (B, S)

    def _cache(self, state: State):
        from transformers import EncoderDecoderCache

        return EncoderDecoderCache(_dynamic_cache(state, self.layers), _dynamic_cache(state, self.layers, "x"))

    def step(self, state: State, prev: Tensor) -> tuple[Tensor, Tensor, State]:
        out = self.model(encoder_outputs=(state["enc"],), attention_mask=state["enc_mask"],
                         decoder_input_ids=prev.unsqueeze(1), past_key_values=self._cache(state),
                         use_cache=True, output_hidden_states=True)
        cache = out.past_key_values
        new: State = {"enc": state["enc"], "enc_mask": state["enc_mask"]}
        new.update(_cache_state(cache.self_attention_cache))
        new.update(_cache_state(cache.cross_attention_cache, "x"))
        return out.logits[:, -1], out.decoder_hidden_states[-1][:, -1], new

    def teacher(self, state: State, prev: Tensor) -> tuple[Tensor, Tensor]:
        out = self.model(encoder_outputs=(state["enc"],), attention_mask=state["enc_mask"],
                         decoder_input_ids=prev, use_cache=False, output_hidden_states=True)
        return out.logits, out.decoder_hidden_states[-1]


def wrap_hf(model: nn.Module, tokenizer: Optional[Any] = None) -> nn.Module:
    """The StepModel for a loaded Hugging Face model (causal or encoder-decoder)."""
    specials = hf_specials(model, tokenizer)
    return HFSeq2Seq(model, specials) if model.config.is_encoder_decoder else HFCausalLM(model, specials)
