"""Batched autoregressive decoding over any StepModel: sampling, greedy, teacher-forced scoring."""
from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from seqrl.policies.protocol import Scored, State, StepModel
from seqrl.rollout import Rollout
from seqrl.vocab import specials_of


def start_tokens(model: StepModel, state: State) -> Tensor:
    """(N,) first decoder input of each row: the model's own (`model.start(state)`, e.g. the last
    prompt token of a causal LM) or its BOS id."""
    start = getattr(model, "start", None)
    if start is not None:
        return start(state)
    first = next(iter(state.values()))
    return torch.full((first.shape[0],), specials_of(model).bos, dtype=torch.long, device=first.device)


BANNED_LOGIT = -1e9  # exp underflows to exactly 0 in float32, and 0 * BANNED_LOGIT stays finite


def output_logits(model: StepModel, logits: Tensor, temperature: float = 1.0) -> Tensor:
    """The logits of the output distribution: float32, divided by the temperature, with PAD and
    BOS (when they are not also EOS) set to BANNED_LOGIT, so they are never sampled, chosen or
    scored as content. Every decoding path (sampling, greedy, beam, teacher scoring) goes through
    here, so sampled log-probabilities equal teacher-forced ones."""
    logits = logits.float() if temperature == 1.0 else logits.float() / temperature
    banned = _banned_ids(specials_of(model), logits.shape[-1], logits.device)
    return logits if banned is None else logits.index_fill(-1, banned, BANNED_LOGIT)


_BANNED: dict[tuple[Any, ...], Optional[Tensor]] = {}


def _banned_ids(sp: Any, vocab: int, device: torch.device) -> Optional[Tensor]:
    """PAD and BOS ids (unless one is also EOS) as a tensor on `device`, made once per
    (ids, vocabulary, device): output_logits runs at every decoding step."""
    key = (sp.pad, sp.bos, sp.eos, vocab, device)
    if key not in _BANNED:
        ids = [i for i in sorted({sp.pad, sp.bos} - {sp.eos}) if 0 <= i < vocab]
        _BANNED[key] = torch.tensor(ids, device=device) if ids else None
    return _BANNED[key]


def repeat_state(state: State, k: int) -> State:
    """Repeat every row k times (row i -> rows i*k .. i*k+k-1)."""
    if k == 1:
        return state
    return {name: t.repeat_interleave(k, dim=0) for name, t in state.items()}


def draw_uniforms(n: int, generator: Optional[torch.Generator] = None,
                  rows: Optional[tuple[int, int]] = None, device: Optional[torch.device] = None) -> Tensor:
    """(n, 1) float64 uniforms for one draw per row, on `device`. rows=(offset, total): these n rows
    are rows offset.. of a batch of `total` (a data-parallel shard): the uniforms of all `total`
    rows are drawn and this shard's slice is used, so a shard draws what the whole batch would.
    They are drawn on the generator's device (seqrl's sampling generators are CPU ones, seeded by
    (seed, step)) and moved, so a GPU run draws exactly a CPU run's uniforms."""
    return draw_rollout_uniforms(1, n, generator, rows, device)[0]


def draw_rollout_uniforms(steps: int, n: int, generator: Optional[torch.Generator] = None,
                          rows: Optional[tuple[int, int]] = None,
                          device: Optional[torch.device] = None) -> Tensor:
    """(steps, n, 1) float64 uniforms: step t's are what `draw_uniforms(n, ...)` would draw at the
    t-th call (a CPU generator draws float64 uniforms in sequence, so one call for the whole
    rollout gives the same numbers), moved to `device` in one copy instead of one per token."""
    where = generator.device if generator is not None else device  # drawn where the generator lives
    if rows is None:
        u = torch.rand(steps, n, 1, dtype=torch.float64, generator=generator, device=where)
    else:
        offset, total = rows
        u = torch.rand(steps, total, 1, dtype=torch.float64, generator=generator, device=where)[:, offset : offset + n]
    return u if device is None else u.to(device, non_blocking=True)


def invert_cdf(logp: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
    """Tokens (N,) drawn from log-probabilities (N, V) with uniforms u (N, 1), and the rows (N,)
    whose distribution is not valid (NaN/inf/zero mass): no host sync, the caller checks."""
    cdf = logp.double().exp().cumsum(dim=-1)  # (N, V), float64 so the tail keeps its mass
    total = cdf[:, -1:]  # (N, 1), 1 up to rounding
    bad = ~(torch.isfinite(total) & (total > 0)).squeeze(1)
    tok = torch.searchsorted(cdf, u * total, right=True).squeeze(1)  # first cdf > u * total
    return tok.clamp_(max=cdf.shape[1] - 1), bad


def check_distributions(bad: Tensor) -> None:
    """Raise naming the first row whose next-token distribution was not valid (one host sync)."""
    if bool(bad.any()):
        raise RuntimeError(f"row {int(bad.nonzero()[0, 0])} has no valid next-token distribution (NaN/inf probabilities)")


def sample_categorical(logp: Tensor, generator: Optional[torch.Generator] = None,
                       rows: Optional[tuple[int, int]] = None, u: Optional[Tensor] = None) -> Tensor:
    """One draw per row of log-probabilities (N, V) -> (N,), by inverting the CDF with one
    uniform per row. torch.multinomial draws an exponential for every vocabulary entry (V
    random numbers per row), which dominated sampling time for vocabularies in the thousands.
    rows: see `draw_uniforms`; u (N, 1): the uniforms to use instead of drawing them."""
    if u is None:
        u = draw_uniforms(logp.shape[0], generator, rows, logp.device)
    tok, bad = invert_cdf(logp, u)
    check_distributions(bad)
    return tok


CHECK_EVERY_CUDA = 8  # on CUDA the decoding loop reads device values (EOS, bad rows) every 8 tokens


COMPACT_BELOW = 0.75  # drop finished rows from the decoding batch once fewer than this share run


def decode(
    model: StepModel,
    state: State,
    k: int,
    max_len: int,
    temperature: float = 1.0,
    greedy: bool = False,
    generator: Optional[torch.Generator] = None,
    forced: Optional[Tensor] = None,
    forced_len: Optional[Tensor] = None,
    rows: Optional[tuple[int, int]] = None,
) -> Rollout:
    """Decode k sequences per input row of `state`, all rows in one tensor program.
    rows: see `sample_categorical` (a data-parallel shard of a larger batch).

    forced (N, F) / forced_len (N,): row i takes forced[i, t] for t < forced_len[i] instead of
    sampling (MIXER's cross-entropy prefix). Decoding stops once every row has emitted EOS; once
    fewer than COMPACT_BELOW of the rows in the decoding batch still run, the finished ones are
    dropped from the state (every state tensor is batch-first), so late steps cost only the rows
    still decoding. The draws do not depend on it: each step draws a uniform for every row.
    """
    rollout, _ = decode_scored(model, state, k, max_len, temperature, greedy, generator, forced, forced_len, rows,
                               track=False)
    return rollout


def decode_scored(
    model: StepModel,
    state: State,
    k: int,
    max_len: int,
    temperature: float = 1.0,
    greedy: bool = False,
    generator: Optional[torch.Generator] = None,
    forced: Optional[Tensor] = None,
    forced_len: Optional[Tensor] = None,
    rows: Optional[tuple[int, int]] = None,
    track: bool = True,
    entropy_grad: bool = True,
    check_every: Optional[int] = None,
) -> tuple[Rollout, Optional[Scored]]:
    """`decode`, and with track=True (and grad enabled) also the Scored of the samples taken from
    the decoding pass itself: log-probs, entropies and features connected to the graph, so the
    loss needs no second, teacher-forced pass. The draws are the same as `decode`'s.

    No host sync per token on a GPU: the uniforms of the whole rollout are drawn in one call and
    moved once, and the loop reads device values (EOS, compaction, invalid distributions) only
    every `check_every` tokens (default: every token on the CPU, every CHECK_EVERY_CUDA on CUDA);
    columns decoded after the last EOS are cut, so the rollout is the same whichever it is.

    Long because: the sampling loop keeps its compaction, EOS and scoring bookkeeping in one
    frame; it is the hot loop of every REINFORCE step, and splitting it would add calls per
    token.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    state = repeat_state(state, k)
    n = next(iter(state.values())).shape[0]
    device = next(iter(state.values())).device
    every = check_every or (CHECK_EVERY_CUDA if device.type == "cuda" else 1)
    sp = specials_of(model)
    prev = start_tokens(model, state)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    bad = torch.zeros(n, dtype=torch.bool, device=device)  # rows that met a NaN/inf distribution
    uniforms = None if greedy else draw_rollout_uniforms(max_len, n, generator, rows, device)  # (T, N, 1)
    live: Optional[Tensor] = None  # (M,) rows that `state` still holds after a compaction; None: all
    tokens, logprobs, masks, forced_flags, entropies, features = [], [], [], [], [], []

    def full(sub: Tensor, fill: float = 0.0) -> Tensor:
        """(M, ...) values of the live rows -> (N, ...), `fill` in the dropped rows (differentiable)."""
        return sub if live is None else sub.new_full((n, *sub.shape[1:]), fill).index_put((live,), sub)

    for t in range(max_len):
        logits, feat, state = model.step(state, prev)  # (M, V), (M, H)
        logp = F.log_softmax(output_logits(model, logits, temperature), dim=-1)
        if greedy:
            sub = logp.argmax(dim=-1)
        else:  # every row's uniform is drawn, finished or not: the draws do not depend on `live`
            assert uniforms is not None
            sub, sub_bad = invert_cdf(logp.detach(), uniforms[t] if live is None else uniforms[t][live])
            bad = bad | full(sub_bad, False)
        alive = ~done
        is_forced = torch.zeros(n, dtype=torch.bool, device=device)
        if forced is not None and forced_len is not None and t < forced.shape[1]:
            is_forced = t < forced_len
            sub = torch.where(is_forced if live is None else is_forced[live],
                              forced[:, t] if live is None else forced[live, t], sub)
        tok = torch.where(alive, full(sub, sp.pad), sp.pad)
        lp = full(logp.gather(1, (tok if live is None else tok[live]).unsqueeze(1)).squeeze(1))
        tokens.append(tok)
        logprobs.append(torch.where(alive, lp, 0.0))
        masks.append(alive)
        forced_flags.append(is_forced & alive)
        if track:
            with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
                ent = -(logp.exp() * logp).sum(dim=-1)  # (M,)
            entropies.append(torch.where(alive, full(ent), 0.0))
            features.append(full(feat))
        done = done | (tok == sp.eos)
        prev = tok if live is None else tok[live]
        if (t + 1) % every and t < max_len - 1:
            continue  # read device values only every `every` tokens (1 on the CPU, where it is free)
        check_distributions(bad)
        running = ~done if live is None else ~done[live]  # (M,)
        m_run = int(running.sum())
        if m_run == 0:
            break
        if m_run < COMPACT_BELOW * running.shape[0]:  # finished rows cost compute at every later step
            keep = running.nonzero().squeeze(1)
            state = {name: v.index_select(0, keep) for name, v in state.items()}
            live, prev = (keep if live is None else live[keep]), prev[keep]
    check_distributions(bad)
    if every > 1:  # columns after the last row's EOS (decoded until the next check) hold nothing
        width = int(torch.stack(masks, dim=1).any(dim=0).nonzero().max()) + 1
        tokens, logprobs, masks, forced_flags = tokens[:width], logprobs[:width], masks[:width], forced_flags[:width]
        entropies, features = entropies[:width], features[:width]
    rollout = Rollout(
        tokens=torch.stack(tokens, dim=1),
        logprobs=torch.stack(logprobs, dim=1),
        mask=torch.stack(masks, dim=1),
        forced=torch.stack(forced_flags, dim=1),
        k=k,
        eos=sp.eos,
    )
    if not track:
        return rollout, None
    scored = Scored(logprobs=rollout.logprobs, entropy=torch.stack(entropies, dim=1),
                    features=torch.stack(features, dim=1))
    return rollout._replace(logprobs=rollout.logprobs.detach()), scored


def shift_right(tokens: Tensor, first: Tensor) -> Tensor:
    """(N, T) targets -> (N, T) decoder inputs [first, y_1 .. y_{T-1}]; first (N,) is each row's
    first decoder input (BOS, or the model's start token)."""
    return torch.cat([first.unsqueeze(1).to(tokens.dtype), tokens[:, :-1]], dim=1)


def score(
    model: StepModel, state: State, tokens: Tensor, mask: Tensor, temperature: float = 1.0,
    entropy_grad: bool = True,
) -> Scored:
    """Teacher-forced log-probs, entropies and features of `tokens` (N, T); rows of `state` are N.

    entropy_grad=False computes the entropy without a graph (for logging only): on a large
    vocabulary its backward costs as much as the rest of the step's output layer.
    """
    logits, features = model.teacher(state, shift_right(tokens, start_tokens(model, state)))  # (N, T, V), (N, T, H)
    logp_all = F.log_softmax(output_logits(model, logits, temperature), dim=-1)  # (N, T, V)
    safe = torch.where(mask, tokens, torch.zeros_like(tokens))
    logp = logp_all.gather(2, safe.unsqueeze(2)).squeeze(2)
    with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
        entropy = -(logp_all.exp() * logp_all).sum(dim=-1)  # (N, T)
    zero = torch.zeros_like(logp)
    return Scored(
        logprobs=torch.where(mask, logp, zero),
        entropy=torch.where(mask, entropy, torch.zeros_like(entropy)),
        features=features,
    )
