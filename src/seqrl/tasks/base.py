"""What a task is: a generator of examples plus its default reward and metrics.

Token-id lists passed to `reward`, `token_reward` and `metrics` never contain EOS,
BOS or PAD: `completions[i]` is what the policy generated before its EOS,
`references[i]` the reference output (or None when the task has no reference) and
`sources[i]` the input.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Protocol, Sequence, runtime_checkable

import numpy as np

from seqrl.vocab import Vocab

Tokens = Sequence[int]


@dataclass(frozen=True)
class Example:
    """One input and, for reference tasks, its reference output (token ids, no EOS)."""

    source: tuple[int, ...]
    target: Optional[tuple[int, ...]] = None
    reference_texts: Optional[tuple[str, ...]] = None  # text tasks: every reference, detokenized
    columns: Optional[dict[str, Any]] = field(default=None, hash=False)  # extra data fields, for rewards


RESERVED_COLUMNS = ("completions", "references", "sources", "reference_texts")


def example_columns(examples: Sequence[Example], k: int = 1) -> Optional[dict[str, list[Any]]]:
    """Keyword arguments for a reward over `examples`, each sampled k times: `reference_texts`
    (text tasks) and every extra data field (JSONL fields, dataset columns), one value per sample
    (None where an example lacks the field). Fields named like the reward's own arguments are
    left out (they would clash)."""
    out: dict[str, list[Any]] = {}
    texts = [e.reference_texts for e in examples]
    if texts and all(t is not None for t in texts):
        out["reference_texts"] = [t for t in texts for _ in range(k)]
    keys = sorted({key for e in examples for key in (e.columns or {})} - set(RESERVED_COLUMNS))
    for key in keys:
        out[key] = [(e.columns or {}).get(key) for e in examples for _ in range(k)]
    return out or None


@runtime_checkable
class Task(Protocol):
    """A family of sequence problems the policies are trained on."""

    @property
    def name(self) -> str:
        """Registry name, e.g. "reverse"."""
        ...

    @property
    def vocab(self) -> Vocab:
        ...

    @property
    def has_reference(self) -> bool:
        """True when every example carries a reference target (cross-entropy is possible)."""
        ...

    @property
    def description(self) -> str:
        """One-line human description."""
        ...

    def make(self, rng: np.random.Generator, length: int) -> Example:
        """One example whose size is `length` (the task documents what size means)."""
        ...

    def max_target_len(self, max_length: int) -> int:
        """Longest target for examples of size up to `max_length` (the decoding budget, EOS excluded).

        For tasks without a reference: the longest completion allowed.
        """
        ...

    def reward(
        self, completions: Sequence[Tokens], references: Sequence[Optional[Tokens]], sources: Sequence[Tokens]
    ) -> list[float]:
        """Default sequence-level training reward, one value per completion."""
        ...

    def token_reward(
        self, completions: Sequence[Tokens], references: Sequence[Optional[Tokens]], sources: Sequence[Tokens]
    ) -> list[list[float]]:
        """Per-token rewards: len(completion) + 1 entries each (the last is the EOS position),
        summing to the sequence-level reward."""
        ...

    def metrics(
        self, completions: Sequence[Tokens], references: Sequence[Optional[Tokens]], sources: Sequence[Tokens]
    ) -> dict[str, float]:
        """Mean evaluation metrics: exact_match and partial_credit for reference tasks;
        reward and success_rate for tasks without a reference."""
        ...


def check_parallel(
    completions: Sequence[Tokens], references: Optional[Sequence[object]], sources: Sequence[Tokens]
) -> None:
    """Raise ValueError unless completions, references (if given) and sources have equal lengths."""
    n = len(completions)
    if len(sources) != n:
        raise ValueError(f"sources has {len(sources)} entries but completions has {n}")
    if references is not None and len(references) != n:
        raise ValueError(f"references has {len(references)} entries but completions has {n}")


def check_length(length: int, minimum: int = 1, maximum: Optional[int] = None) -> None:
    """Raise ValueError unless minimum <= length (<= maximum)."""
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)):
        raise ValueError(f"length must be an integer, got {length!r}")
    if length < minimum or (maximum is not None and length > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"length must be >= {minimum}{upper}, got {length}")
