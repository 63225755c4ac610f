"""GRU/LSTM encoder-decoder with Luong (general) attention, as a StepModel.

The encoder is a bidirectional RNN over the source; the decoder is a unidirectional RNN whose
output attends over the encoder states. Attention is applied after the recurrence (no input
feeding), so the teacher-forced pass runs the whole target through the RNN kernel at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqrl.policies.protocol import State
from seqrl.vocab import PAD


@dataclass(frozen=True)
class RNNConfig:
    vocab_size: int
    cell: str = "gru"  # "gru" | "lstm"
    embed_dim: int = 64
    hidden_dim: int = 128
    layers: int = 1
    dropout: float = 0.0
    src_vocab_size: int | None = None  # a separate source vocabulary (None: shared with the target)


class RNNSeq2Seq(nn.Module):
    def __init__(self, cfg: RNNConfig) -> None:
        super().__init__()
        if cfg.cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm', got {cfg.cell!r}")
        self.cfg = cfg
        self.vocab_size = cfg.vocab_size
        self.feature_dim = cfg.hidden_dim
        rnn = nn.GRU if cfg.cell == "gru" else nn.LSTM
        drop = cfg.dropout if cfg.layers > 1 else 0.0
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=PAD)
        # Source embedding: the shared table, or its own table for a separate source vocabulary.
        self.src_embed = (nn.Embedding(cfg.src_vocab_size, cfg.embed_dim, padding_idx=PAD)
                          if cfg.src_vocab_size is not None else None)
        self.encoder = rnn(cfg.embed_dim, cfg.hidden_dim // 2, cfg.layers, batch_first=True,
                           bidirectional=True, dropout=drop)
        self.decoder = rnn(cfg.embed_dim, cfg.hidden_dim, cfg.layers, batch_first=True, dropout=drop)
        self.attn = nn.Linear(cfg.hidden_dim, cfg.hidden_dim, bias=False)
        self.combine = nn.Linear(2 * cfg.hidden_dim, cfg.hidden_dim)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.hidden_dim, cfg.vocab_size)

    # Encoder outputs depend on the source only (see StepModel): beam search does not reorder them.
    static_state = frozenset(("enc", "enc_mask"))

    # -- encoder -------------------------------------------------------------------------------
    def encode(self, src: Tensor, src_mask: Tensor) -> State:
        if src.is_cuda:  # cuDNN wants each RNN's weights in one chunk again after .to() or a load
            self.encoder.flatten_parameters()
            self.decoder.flatten_parameters()
        lengths = src_mask.sum(dim=1).clamp(min=1).cpu()
        x = self.drop((self.src_embed or self.embed)(src))  # (B, S, E)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        enc_packed, final = self.encoder(packed)
        enc, _ = pad_packed_sequence(enc_packed, batch_first=True, total_length=src.shape[1])
        state: State = {"enc": enc, "enc_mask": src_mask}  # (B, S, H), (B, S)
        if self.cfg.cell == "lstm":
            h, c = final
            state["h"] = self._bridge(h)
            state["c"] = self._bridge(c)
        else:
            state["h"] = self._bridge(final)
        return state

    def _bridge(self, final: Tensor) -> Tensor:
        """(2 * layers, B, H/2) bidirectional finals -> (B, layers, H) decoder init, batch-first."""
        layers, b = self.cfg.layers, final.shape[1]
        final = final.view(layers, 2, b, -1).permute(2, 0, 1, 3)  # (B, layers, 2, H/2)
        return final.reshape(b, layers, -1).contiguous()

    # -- decoder -------------------------------------------------------------------------------
    def _hidden(self, state: State):
        h = state["h"].transpose(0, 1).contiguous()  # (layers, N, H)
        if self.cfg.cell == "lstm":
            return h, state["c"].transpose(0, 1).contiguous()
        return h

    def _attend(self, dec: Tensor, enc: Tensor, enc_mask: Tensor) -> Tensor:
        """dec (N, T, H), enc (N, S, H) -> attentional features (N, T, H)."""
        scores = torch.bmm(self.attn(dec), enc.transpose(1, 2))  # (N, T, S)
        scores = scores.masked_fill(~enc_mask.unsqueeze(1), float("-inf"))
        ctx = torch.bmm(F.softmax(scores, dim=-1), enc)  # (N, T, H)
        return self.drop(torch.tanh(self.combine(torch.cat([dec, ctx], dim=-1))))

    def step(self, state: State, prev: Tensor) -> tuple[Tensor, Tensor, State]:
        x = self.drop(self.embed(prev.unsqueeze(1)))  # (N, 1, E)
        dec, hidden = self.decoder(x, self._hidden(state))  # (N, 1, H)
        feat = self._attend(dec, state["enc"], state["enc_mask"]).squeeze(1)  # (N, H)
        new = dict(state)
        if self.cfg.cell == "lstm":
            new["h"], new["c"] = hidden[0].transpose(0, 1), hidden[1].transpose(0, 1)
        else:
            new["h"] = hidden.transpose(0, 1)
        return self.out(feat), feat, new

    def teacher(self, state: State, prev: Tensor) -> tuple[Tensor, Tensor]:
        x = self.drop(self.embed(prev))  # (N, T, E)
        dec, _ = self.decoder(x, self._hidden(state))  # (N, T, H)
        feat = self._attend(dec, state["enc"], state["enc_mask"])
        return self.out(feat), feat
