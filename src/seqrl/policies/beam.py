"""Batched beam search over any StepModel (GRU/LSTM, TransformerSeq2Seq, TransformerLM).

All inputs and all their beams advance together in one tensor program: the decoding state holds
B * beam rows (input i owns rows i*beam .. i*beam+beam-1) and after every step each state tensor
is reordered with `index_select` on dim 0, which is valid for RNN hidden states and Transformer
KV caches alike because every `State` tensor is batch-first. Tensors the model names in
`static_state` (set by encode, passed through by step) are not reordered: on every beam of an
input they are equal.

Search, per input and step t (hypotheses then hold t+1 tokens):
  * the beam*V extensions of the live beams are ranked by their summed log-probability;
  * extensions ending in EOS that rank among the top `beam` of them enter the input's pool of
    finished hypotheses (at the last step, max_len, every top-`beam` extension does: rows that
    hit the budget without EOS are candidates too); the pool keeps the `beam` best by score;
  * the `beam` best extensions not ending in EOS become the next live beams.
  At the first step only beam 0 is live (the others start at -inf), so no duplicates appear.

Score of a finished hypothesis y with |y| tokens (EOS included), GNMT length normalisation
(Wu et al., 2016):

    score(y) = sum_t log p(y_t | y_<t, x) / ((5 + |y|) / 6) ** alpha

alpha = 0 gives the raw summed log-probability; larger alpha favours longer hypotheses.

Stopping: an input is done once its pool holds `beam` hypotheses and no live beam can still beat
the worst of them. Log-probabilities are <= 0, so a live beam with sum s can reach at most
s / max(lp(t+2), lp(max_len)) with lp(n) = ((5 + n) / 6) ** alpha: an exact bound, not a
heuristic. Decoding ends when every input is done, or at max_len.

Width 1 with alpha = 0 is exactly greedy decoding. With alpha > 0 a width-1 search may continue
past greedy's EOS and return a longer hypothesis with a better normalised score.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from seqrl.policies.decoding import output_logits, repeat_state, start_tokens
from seqrl.policies.protocol import State, StepModel
from seqrl.rollout import Rollout
from seqrl.vocab import specials_of

NEG_INF = float("-inf")


def length_penalty_denominator(length, alpha: float):
    """GNMT length penalty ((5 + length) / 6) ** alpha (float or tensor length)."""
    return ((5.0 + length) / 6.0) ** alpha


def normalised_score(logprobs: Tensor, mask: Tensor, alpha: float = 1.0) -> Tensor:
    """(N, T) per-token log-probs and mask -> (N,) length-normalised scores used by beam_search."""
    lengths = mask.sum(dim=1).to(logprobs.dtype)
    total = torch.where(mask, logprobs, torch.zeros_like(logprobs)).sum(dim=1)
    return total / length_penalty_denominator(lengths, alpha)


def _pick(x: Tensor, parent: Tensor) -> Tensor:
    """x (B, K, T), parent (B, K) -> rows x[b, parent[b, j]] as (B, K, T)."""
    return x.gather(1, parent.unsqueeze(2).expand(-1, -1, x.shape[2]))


@torch.no_grad()
def beam_search(
    model: StepModel,
    state: State,
    beam: int,
    max_len: int,
    length_penalty: float = 1.0,
    return_all: bool = False,
) -> Rollout:
    """Beam search of width `beam` for every input row of `state` (see the module docstring).

    Returns a Rollout with k=1 (best hypothesis per input) or, if return_all, k=beam hypotheses
    per input sorted best first. tokens end with EOS (unless the row hit max_len) with PAD after;
    logprobs are the per-token log-probabilities under the untempered distribution (0 where
    masked); mask covers the generated tokens, EOS included; forced is all False. Pool slots that
    were never filled (only possible when beam exceeds the number of distinct sequences) are
    empty rows: all PAD, mask all False.

    Long because: one decoding loop whose per-step state (scores, finished hypotheses, cache
    reorder) is shared by every line; split, it would pass a dozen tensors between pieces on the
    hot path.
    """
    if beam < 1:
        raise ValueError(f"beam width must be >= 1, got {beam}")
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    alpha = float(length_penalty)
    first = next(iter(state.values()))
    b, k, device = first.shape[0], beam, first.device
    state = repeat_state(state, k)
    rows = (torch.arange(b, device=device) * k).unsqueeze(1)  # (B, 1) first state row of each input
    sp = specials_of(model)
    PAD, EOS = sp.pad, sp.eos  # noqa: N806 - the model's ids, read like the usual constants

    live = torch.full((b, k), NEG_INF, device=device)  # summed log-prob of each live beam
    live[:, 0] = 0.0
    hist_tok = torch.empty(b, k, 0, dtype=torch.long, device=device)
    hist_lp = torch.empty(b, k, 0, device=device)
    pool_score = torch.full((b, k), NEG_INF, device=device)
    pool_tok = torch.full((b, k, max_len), PAD, dtype=torch.long, device=device)
    pool_lp = torch.zeros(b, k, max_len, device=device)
    pool_len = torch.zeros(b, k, dtype=torch.long, device=device)
    prev = start_tokens(model, state)
    # Input-only tensors (encoder memory, cross-attention keys/values) are equal on all beams of an
    # input, so reordering them is the identity: skipping it saves most of a step's copying.
    static = frozenset(getattr(model, "static_state", ()))

    for t in range(max_len):
        logits, _, state = model.step(state, prev)
        logp = F.log_softmax(output_logits(model, logits), dim=-1)  # (B*K, V)
        v = logp.shape[-1]
        step_lp = logp.view(b, k * v)
        cand = (live.unsqueeze(2) + logp.view(b, k, v)).view(b, k * v)  # (B, K*V)
        last = t == max_len - 1

        # -- finished candidates: EOS among the top-k extensions (all top-k at the budget) ----
        top_val, top_idx = cand.topk(k, dim=1)  # (B, K)
        top_parent, top_tok = top_idx // v, top_idx % v
        ok = top_val > NEG_INF
        if not last:
            ok = ok & (top_tok == EOS)
        fin_score = torch.where(ok, top_val / length_penalty_denominator(t + 1, alpha),
                                torch.full_like(top_val, NEG_INF))
        fin_tok = torch.full((b, k, max_len), PAD, dtype=torch.long, device=device)
        fin_tok[:, :, :t] = _pick(hist_tok, top_parent)
        fin_tok[:, :, t] = top_tok
        fin_tok = torch.where(ok.unsqueeze(2), fin_tok, torch.full_like(fin_tok, PAD))
        fin_lp = torch.zeros(b, k, max_len, device=device)
        fin_lp[:, :, :t] = _pick(hist_lp, top_parent)
        fin_lp[:, :, t] = step_lp.gather(1, top_idx)
        fin_len = torch.where(ok, torch.full_like(pool_len, t + 1), torch.zeros_like(pool_len))
        # Merge into the pool, keeping the k best sorted best first (pool first on ties).
        all_score = torch.cat([pool_score, fin_score], dim=1)  # (B, 2K)
        keep = all_score.topk(k, dim=1).indices  # (B, K)
        pool_score = all_score.gather(1, keep)
        pool_tok = _pick(torch.cat([pool_tok, fin_tok], dim=1), keep)
        pool_lp = _pick(torch.cat([pool_lp, fin_lp], dim=1), keep)
        pool_len = torch.cat([pool_len, fin_len], dim=1).gather(1, keep)
        if last:
            break

        # -- live beams: the k best extensions that do not end the hypothesis ------------------
        cont = cand.view(b, k, v).clone()
        cont[:, :, EOS] = NEG_INF
        live, live_idx = cont.view(b, k * v).topk(k, dim=1)  # (B, K)
        parent, tok = live_idx // v, live_idx % v
        hist_tok = torch.cat([_pick(hist_tok, parent), tok.unsqueeze(2)], dim=2)
        hist_lp = torch.cat([_pick(hist_lp, parent), step_lp.gather(1, live_idx).unsqueeze(2)], dim=2)

        # -- stopping: a full pool that no live beam can beat ---------------------------------
        best_live = live.max(dim=1).values  # (B,)
        bound = best_live / max(length_penalty_denominator(t + 2, alpha),
                                length_penalty_denominator(max_len, alpha))
        full = (pool_score > NEG_INF).all(dim=1)
        done = (full & (bound <= pool_score.min(dim=1).values)) | (best_live == NEG_INF)
        live = live.masked_fill(done.unsqueeze(1), NEG_INF)  # freeze finished inputs
        if bool(done.all()):
            break
        index = (rows + parent).view(-1)  # parents stay within their input's rows
        state = {name: x if name in static else x.index_select(0, index) for name, x in state.items()}
        prev = tok.view(-1)

    if not return_all:
        pool_tok, pool_lp, pool_len = pool_tok[:, :1], pool_lp[:, :1], pool_len[:, :1]
    n_out = pool_tok.shape[1]
    width = max(int(pool_len.max().item()), 1)
    tokens = pool_tok[:, :, :width].reshape(b * n_out, width)
    lengths = pool_len.reshape(b * n_out, 1)
    mask = torch.arange(width, device=device).unsqueeze(0) < lengths
    logprobs = torch.where(mask, pool_lp[:, :, :width].reshape(b * n_out, width),
                           torch.zeros(b * n_out, width, device=device))
    return Rollout(tokens=tokens, logprobs=logprobs, mask=mask,
                   forced=torch.zeros_like(mask), k=n_out, eos=EOS)
