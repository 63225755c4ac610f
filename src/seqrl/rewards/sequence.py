"""Sequence-level reward functions for tasks with a reference output.

Every function follows the TRL-style reward contract

    fn(completions, references, sources, **columns) -> list[float | None]

where `completions`, `references` and `sources` are parallel lists of token-id lists
without EOS. A `None` reference (or a `None` references list) means the reward does
not apply to that sample, and the function returns `None` for it.

Partial credit compares position by position and divides by the longer of the two
sequences, so both missing and extra tokens cost credit:

    partial_credit = #{t : completion[t] == reference[t]} / max(len(reference), len(completion))

It is 1.0 exactly when the completion equals the reference; two empty sequences
count as a perfect match (0/0 := 1.0).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

Tokens = Sequence[int]


def _references(completions: Sequence[Tokens], references: Optional[Sequence[Optional[Tokens]]]) -> list[Optional[Tokens]]:
    if references is None:
        return [None] * len(completions)
    if len(references) != len(completions):
        raise ValueError(
            f"references has {len(references)} entries but completions has {len(completions)}"
        )
    return list(references)


def match_count(completion: Tokens, reference: Tokens) -> int:
    """Number of positions t where completion[t] == reference[t]."""
    return sum(1 for c, r in zip(completion, reference) if c == r)


def partial_credit_one(completion: Tokens, reference: Tokens) -> float:
    """Partial credit of one completion against one reference, in [0, 1]."""
    denom = max(len(completion), len(reference))
    if denom == 0:
        return 1.0
    return match_count(completion, reference) / denom


def partial_credit_tokens_one(completion: Tokens, reference: Tokens) -> list[float]:
    """Per-token partial credit: len(completion) + 1 entries (the last is EOS) summing to the sequence value.

    The split is causal, so reward-to-go over it is an unbiased estimator: token t earns
    1 / len(reference) when it matches reference[t], which depends only on that token and the
    reference, never on how many tokens come later. The length term arrives with EOS, the action
    that fixes the length: partial_credit - (sum of the token terms), i.e. minus
    matches * (1/len(reference) - 1/max(len(completion), len(reference))), zero unless the
    completion is longer than the reference. The empty-vs-empty perfect match is [1.0].
    """
    denom = max(len(completion), len(reference))
    if denom == 0:
        return [1.0]
    per = 1.0 / len(reference) if reference else 0.0
    out = [per if t < len(reference) and c == reference[t] else 0.0 for t, c in enumerate(completion)]
    out.append(partial_credit_one(completion, reference) - sum(out))
    return out


def exact_match_one(completion: Tokens, reference: Tokens) -> float:
    return 1.0 if list(completion) == list(reference) else 0.0


def partial_credit(
    completions: Sequence[Tokens],
    references: Optional[Sequence[Optional[Tokens]]],
    sources: Sequence[Tokens],
    **columns: Any,
) -> list[Optional[float]]:
    """Per-position partial credit of each completion; None where there is no reference."""
    refs = _references(completions, references)
    return [None if r is None else partial_credit_one(c, r) for c, r in zip(completions, refs)]


def exact_match(
    completions: Sequence[Tokens],
    references: Optional[Sequence[Optional[Tokens]]],
    sources: Sequence[Tokens],
    **columns: Any,
) -> list[Optional[float]]:
    """1.0 where the completion equals its reference, else 0.0; None where there is no reference."""
    refs = _references(completions, references)
    return [None if r is None else exact_match_one(c, r) for c, r in zip(completions, refs)]


def partial_credit_tokens(
    completions: Sequence[Tokens],
    references: Optional[Sequence[Optional[Tokens]]],
    sources: Sequence[Tokens],
    **columns: Any,
) -> list[Optional[list[float]]]:
    """Per-token partial credit (see `partial_credit_tokens_one`); None where there is no reference."""
    refs = _references(completions, references)
    return [None if r is None else partial_credit_tokens_one(c, r) for c, r in zip(completions, refs)]
