"""Transformer StepModels with incremental (KV-cached) decoding.

`TransformerSeq2Seq` is an encoder-decoder; `TransformerLM` is decoder-only and reads the
sequence [prompt, BOS, completion]. Both share one decoder path (`_advance`) that feeds T new
tokens on top of a key/value cache: `step` feeds one token and keeps the grown cache, `teacher`
feeds a whole teacher-forced sequence at once, and the LM prefills its prompt through it too.

Decoding state (every tensor batch-first, so `repeat_state` can repeat rows):
    k{i}, v{i}     (N, heads, L, head_dim)  self-attention cache of decoder layer i
    kv_mask        (N, L) bool              True on cached positions that may be attended
    pos            (N,) long                position id of the next token fed
  TransformerSeq2Seq only:
    memory         (N, S, D)                encoder output after its final LayerNorm
    memory_mask    (N, S) bool              source mask (all True on rows with an empty source)
    cross_k{i}, cross_v{i}  (N, heads, S, head_dim)  memory keys/values of decoder layer i

Positions are learned; the cache length L (prompt padding included) plus the tokens fed may not
exceed `max_positions`. The output head is not tied to the embedding (checkpoints stay free of
shared tensors).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from seqrl.policies.attention import Block, init_weights, self_attention_mask
from seqrl.policies.protocol import State


@dataclass(frozen=True)
class TransformerConfig:
    vocab_size: int
    d_model: int = 128
    heads: int = 4
    layers: int = 2  # decoder layers (all layers of TransformerLM)
    encoder_layers: int = 2  # TransformerSeq2Seq only
    ff_dim: int = 512
    dropout: float = 0.0
    max_positions: int = 256
    src_vocab_size: int | None = None  # TransformerSeq2Seq: a separate source vocabulary


class _CachedDecoder(nn.Module):
    """Token/position embeddings, a stack of cached blocks, final LayerNorm and output head."""

    def __init__(self, cfg: TransformerConfig, cross: bool) -> None:
        super().__init__()
        self.cfg = cfg
        self.cross = cross
        self.vocab_size = cfg.vocab_size
        self.feature_dim = cfg.d_model
        self.head_dim = cfg.d_model // cfg.heads
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_embed = nn.Embedding(cfg.max_positions, cfg.d_model)
        self.blocks = nn.ModuleList(
            Block(cfg.d_model, cfg.heads, cfg.ff_dim, cfg.dropout, cross) for _ in range(cfg.layers)
        )
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.drop = nn.Dropout(cfg.dropout)

    def _empty_state(self, n: int, device: torch.device, dtype: torch.dtype) -> State:
        """Zero-length self-attention cache for n rows, next position 0."""
        state: State = {
            "kv_mask": torch.zeros(n, 0, dtype=torch.bool, device=device),
            "pos": torch.zeros(n, dtype=torch.long, device=device),
        }
        for i in range(self.cfg.layers):
            empty = torch.zeros(n, self.cfg.heads, 0, self.head_dim, dtype=dtype, device=device)
            state[f"k{i}"], state[f"v{i}"] = empty, empty
        return state

    def _advance(self, state: State, tokens: Tensor, valid: Tensor) -> tuple[Tensor, State]:
        """Feed tokens (N, T) with validity (N, T) after the cache -> features (N, T, D), new state.

        Invalid (padding) positions take no position id, are cached but never attended.
        """
        past_mask = state["kv_mask"]  # (N, L)
        n, t = tokens.shape
        if past_mask.shape[1] + t > self.cfg.max_positions:
            raise ValueError(
                f"sequence of {past_mask.shape[1] + t} positions exceeds max_positions "
                f"{self.cfg.max_positions}"
            )
        positions = (state["pos"].unsqueeze(1) + valid.long().cumsum(dim=1) - 1).clamp(min=0)  # (N, T)
        x = self.drop(self.embed(tokens) + self.pos_embed(positions))  # (N, T, D)
        mask = self_attention_mask(past_mask, valid)  # (N, 1, T, L + T)
        cross_mask = state["memory_mask"][:, None, None, :] if self.cross else None  # (N, 1, 1, S)
        new = dict(state)
        for i, block in enumerate(self.blocks):
            cross = (state[f"cross_k{i}"], state[f"cross_v{i}"]) if self.cross else None
            x, (k, v) = block(x, mask, (state[f"k{i}"], state[f"v{i}"]), cross, cross_mask)
            new[f"k{i}"], new[f"v{i}"] = k, v  # (N, heads, L + T, head_dim)
        new["kv_mask"] = torch.cat([past_mask, valid], dim=1)  # (N, L + T)
        new["pos"] = state["pos"] + valid.long().sum(dim=1)  # (N,)
        return self.ln_f(x), new  # (N, T, D)

    def step(self, state: State, prev: Tensor) -> tuple[Tensor, Tensor, State]:
        """prev (N,) -> logits (N, V), features (N, D), state with the cache one longer."""
        valid = torch.ones(prev.shape[0], 1, dtype=torch.bool, device=prev.device)
        feat, new = self._advance(state, prev.unsqueeze(1), valid)  # (N, 1, D)
        feat = feat.squeeze(1)  # (N, D)
        return self.head(feat), feat, new

    def teacher(self, state: State, prev: Tensor) -> tuple[Tensor, Tensor]:
        """prev (N, T) -> logits (N, T, V), features (N, T, D), causally after the cache."""
        feat, _ = self._advance(state, prev, torch.ones_like(prev, dtype=torch.bool))
        return self.head(feat), feat


class TransformerSeq2Seq(_CachedDecoder):
    """Encoder-decoder transformer; source and target share the token embedding unless
    cfg.src_vocab_size gives the source its own vocabulary."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__(cfg, cross=True)
        self.enc_pos_embed = nn.Embedding(cfg.max_positions, cfg.d_model)
        self.src_embed = nn.Embedding(cfg.src_vocab_size, cfg.d_model) if cfg.src_vocab_size is not None else None
        self.encoder = nn.ModuleList(
            Block(cfg.d_model, cfg.heads, cfg.ff_dim, cfg.dropout, cross=False)
            for _ in range(cfg.encoder_layers)
        )
        self.ln_enc = nn.LayerNorm(cfg.d_model)
        init_weights(self, cfg.layers + cfg.encoder_layers)
        # State that depends on the source only (see StepModel): beam search does not reorder it.
        cross = (f"cross_{kv}{i}" for i in range(cfg.layers) for kv in "kv")
        self.static_state = frozenset(("memory", "memory_mask", *cross))

    def encode(self, src: Tensor, src_mask: Tensor) -> State:
        """(B, S) right-padded source -> memory, its cross keys/values and an empty cache."""
        b, s = src.shape
        if s > self.cfg.max_positions:
            raise ValueError(f"source of {s} positions exceeds max_positions {self.cfg.max_positions}")
        positions = torch.arange(s, device=src.device)
        x = self.drop((self.src_embed or self.embed)(src) + self.enc_pos_embed(positions))  # (B, S, D)
        mask = self_attention_mask(src_mask[:, :0], src_mask, causal=False)  # (B, 1, S, S)
        for block in self.encoder:
            x, _ = block(x, mask)
        memory = self.ln_enc(x)  # (B, S, D)
        # A row with an empty source attends over its padding rather than over nothing (NaN).
        memory_mask = src_mask | ~src_mask.any(dim=1, keepdim=True)  # (B, S)
        state: State = {"memory": memory, "memory_mask": memory_mask}
        state.update(self._empty_state(b, src.device, memory.dtype))
        for i, block in enumerate(self.blocks):
            assert block.cross_attn is not None
            state[f"cross_k{i}"], state[f"cross_v{i}"] = block.cross_attn.keys_values(memory)
        return state


class TransformerLM(_CachedDecoder):
    """Decoder-only transformer over [prompt, BOS, completion]; the prompt is prefilled in encode."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__(cfg, cross=False)
        init_weights(self, cfg.layers)

    def encode(self, src: Tensor, src_mask: Tensor) -> State:
        """(B, S) right-padded prompts -> cache prefilled with the left-padded prompts.

        Position ids count real tokens only, so the amount of padding never shifts them; padded
        positions stay in the cache with kv_mask False. Differentiable outside no_grad.
        """
        # Stable sort on the mask moves padding to the front and keeps token order (any mask).
        order = torch.sort(src_mask.to(torch.int8), dim=1, stable=True).indices  # (B, S)
        tokens = src.gather(1, order)  # (B, S) left-padded
        valid = src_mask.gather(1, order)  # (B, S)
        dtype = self.embed.weight.dtype
        _, state = self._advance(self._empty_state(src.shape[0], src.device, dtype), tokens, valid)
        return state
