"""The batch types that flow from data to sampling to reward to loss."""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch
from torch import Tensor

from seqrl.vocab import EOS, PAD


class Batch(NamedTuple):
    """Inputs and (optional) reference outputs, right-padded with PAD.

    src:      (B, S) long   source / prompt tokens
    src_mask: (B, S) bool   True on real tokens
    tgt:      (B, T) long   reference tokens ending with EOS (PAD after); None if the task has none
    tgt_mask: (B, T) bool   True on reference tokens, EOS included
    """

    src: Tensor
    src_mask: Tensor
    tgt: Optional[Tensor] = None
    tgt_mask: Optional[Tensor] = None

    @property
    def size(self) -> int:
        return self.src.shape[0]

    def to(self, device: torch.device) -> "Batch":
        """The same batch on `device` (a no-op where it already is)."""
        return Batch(*(None if t is None else t.to(device, non_blocking=True) for t in self))


class Rollout(NamedTuple):
    """k sampled sequences for each of B inputs, flattened to N = B * k rows.

    Row i belongs to input i // k. Everything after a row's EOS is PAD and masked out.

    tokens:   (N, T) long   sampled tokens, EOS included, PAD after it
    logprobs: (N, T) float  log-probability each token was drawn with (0 where masked); detached
    mask:     (N, T) bool   True on generated tokens up to and including EOS
    forced:   (N, T) bool   True where the token was forced from the reference (MIXER prefix)
    k:        int           samples per input
    eos:      int           the end-of-sequence id of the network that decoded it
    """

    tokens: Tensor
    logprobs: Tensor
    mask: Tensor
    forced: Tensor
    k: int
    eos: int = EOS

    @property
    def lengths(self) -> Tensor:
        """(N,) number of generated tokens, EOS included."""
        return self.mask.sum(dim=1)

    @property
    def finished(self) -> Tensor:
        """(N,) True where the row emitted EOS within the length budget."""
        return ((self.tokens == self.eos) & self.mask).any(dim=1)


def merge_groups(a: Rollout, b: Rollout, pad: int = PAD) -> Rollout:
    """One Rollout whose group of each input holds a's k_a rows then b's k_b rows (k = k_a + k_b);
    both cover the same B inputs and the shorter is padded to the longer's width."""
    if a.tokens.shape[0] // a.k != b.tokens.shape[0] // b.k:
        raise ValueError(f"{a.tokens.shape[0] // a.k} and {b.tokens.shape[0] // b.k} inputs do not match")
    width = max(a.tokens.shape[1], b.tokens.shape[1])

    def grouped(r: Rollout, x: Tensor, fill: float | bool | int) -> Tensor:  # (B*k, T) -> (B, k, width)
        x = torch.nn.functional.pad(x, (0, width - x.shape[1]), value=fill)
        return x.view(-1, r.k, width)

    def cat(xa: Tensor, xb: Tensor, fill: float | bool | int) -> Tensor:
        return torch.cat([grouped(a, xa, fill), grouped(b, xb, fill)], dim=1).view(-1, width)

    return Rollout(tokens=cat(a.tokens, b.tokens, pad), logprobs=cat(a.logprobs, b.logprobs, 0.0),
                   mask=cat(a.mask, b.mask, False), forced=cat(a.forced, b.forced, False), k=a.k + b.k, eos=a.eos)


def pad_sequences(seqs: list[list[int]], pad: int = PAD) -> tuple[Tensor, Tensor]:
    """Right-pad integer lists into (B, L) tokens and a (B, L) bool mask."""
    length = max((len(s) for s in seqs), default=0)
    tokens = torch.full((len(seqs), max(length, 1)), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), max(length, 1)), dtype=torch.bool)
    for i, s in enumerate(seqs):
        if s:
            tokens[i, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[i, : len(s)] = True
    return tokens, mask


def strip(tokens: Tensor, mask: Tensor, eos: int = EOS) -> list[list[int]]:
    """Token lists of each row without EOS and padding: (N, T) -> N lists."""
    out: list[list[int]] = []
    for row, m in zip(tokens.tolist(), mask.tolist()):
        seq = [t for t, keep in zip(row, m) if keep]
        if seq and seq[-1] == eos:
            seq = seq[:-1]
        out.append(seq)
    return out
