"""Algorithmic tasks of the RL Neural Turing Machine family (Zaremba & Sutskever, 2015).

All inputs are strings of digit symbols '0'..str(base - 1). Every task has a reference
output, and its default reward is per-position partial credit (see
`seqrl.rewards.sequence`): missing and extra tokens both cost credit, and the reward is
1.0 exactly when the output is right.

Size (`length` in `make`) means:
  copy, reverse, sort   the number of input digits
  repeat_copy           the number of digits to repeat (the input adds '#' and a count)
  addition              the number of digits of each operand
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from seqrl.rewards.sequence import exact_match_one, partial_credit_one, partial_credit_tokens_one
from seqrl.tasks.base import Example, Tokens, check_length, check_parallel
from seqrl.vocab import Vocab


def digit_symbols(base: int) -> tuple[str, ...]:
    """'0'..str(base - 1)."""
    return tuple(str(d) for d in range(base))


def _check_base(base: int) -> None:
    if isinstance(base, bool) or not isinstance(base, int) or base < 2:
        raise ValueError(f"base must be an integer >= 2, got {base!r}")


def _known_references(references: Sequence[Optional[Tokens]], task: str) -> list[Tokens]:
    out: list[Tokens] = []
    for i, r in enumerate(references):
        if r is None:
            raise ValueError(f"references[{i}] is None but task {task!r} needs a reference for every sample")
        out.append(r)
    return out


class _ReferenceTask:
    """Reward and metrics shared by every task with a reference output."""

    name = ""
    has_reference = True

    def reward(
        self, completions: Sequence[Tokens], references: Sequence[Optional[Tokens]], sources: Sequence[Tokens]
    ) -> list[float]:
        check_parallel(completions, references, sources)
        refs = _known_references(references, self.name)
        return [partial_credit_one(c, r) for c, r in zip(completions, refs)]

    def token_reward(
        self, completions: Sequence[Tokens], references: Sequence[Optional[Tokens]], sources: Sequence[Tokens]
    ) -> list[list[float]]:
        check_parallel(completions, references, sources)
        refs = _known_references(references, self.name)
        return [partial_credit_tokens_one(c, r) for c, r in zip(completions, refs)]

    def metrics(
        self, completions: Sequence[Tokens], references: Sequence[Optional[Tokens]], sources: Sequence[Tokens]
    ) -> dict[str, float]:
        check_parallel(completions, references, sources)
        if not completions:
            raise ValueError("completions must not be empty to compute metrics")
        refs = _known_references(references, self.name)
        n = len(completions)
        return {
            "exact_match": sum(exact_match_one(c, r) for c, r in zip(completions, refs)) / n,
            "partial_credit": sum(partial_credit_one(c, r) for c, r in zip(completions, refs)) / n,
        }


@dataclass(frozen=True)
class _DigitStringTask(_ReferenceTask):
    """A task whose input is `length` random digits and whose target is a function of them."""

    base: int = 10

    def __post_init__(self) -> None:
        _check_base(self.base)

    @property
    def vocab(self) -> Vocab:
        return Vocab(digit_symbols(self.base))

    def _digits(self, rng: np.random.Generator, length: int) -> list[int]:
        check_length(length)
        values = rng.integers(0, self.base, size=length)
        return self.vocab.encode([str(int(v)) for v in values])

    def max_target_len(self, max_length: int) -> int:
        check_length(max_length)
        return max_length


@dataclass(frozen=True)
class CopyTask(_DigitStringTask):
    name = "copy"
    description = "copy the input digits"

    def make(self, rng: np.random.Generator, length: int) -> Example:
        x = tuple(self._digits(rng, length))
        return Example(source=x, target=x)


@dataclass(frozen=True)
class ReverseTask(_DigitStringTask):
    name = "reverse"
    description = "output the input digits in reverse order"

    def make(self, rng: np.random.Generator, length: int) -> Example:
        x = tuple(self._digits(rng, length))
        return Example(source=x, target=x[::-1])


@dataclass(frozen=True)
class SortTask(_DigitStringTask):
    name = "sort"
    description = "output the input digits sorted ascending"

    def make(self, rng: np.random.Generator, length: int) -> Example:
        # Digit ids increase with digit value, so sorting ids sorts the digits.
        x = tuple(self._digits(rng, length))
        return Example(source=x, target=tuple(sorted(x)))


@dataclass(frozen=True)
class RepeatCopyTask(_ReferenceTask):
    """Input: x, '#', n with n in 1..max_repeats; target: x repeated n times."""

    base: int = 10
    max_repeats: int = 3
    name = "repeat_copy"
    description = "copy the digits before '#' as many times as the count after it"

    def __post_init__(self) -> None:
        _check_base(self.base)
        if isinstance(self.max_repeats, bool) or not isinstance(self.max_repeats, int) or self.max_repeats < 1:
            raise ValueError(f"max_repeats must be an integer >= 1, got {self.max_repeats!r}")

    @property
    def vocab(self) -> Vocab:
        # The count is written with a digit symbol, so the digits cover 1..max_repeats too.
        return Vocab(digit_symbols(max(self.base, self.max_repeats + 1)) + ("#",))

    def make(self, rng: np.random.Generator, length: int) -> Example:
        check_length(length)
        vocab = self.vocab
        x = vocab.encode([str(int(v)) for v in rng.integers(0, self.base, size=length)])
        n = int(rng.integers(1, self.max_repeats + 1))
        source = tuple(x + vocab.encode(["#", str(n)]))
        return Example(source=source, target=tuple(x * n))

    def max_target_len(self, max_length: int) -> int:
        check_length(max_length)
        return self.max_repeats * max_length


@dataclass(frozen=True)
class AdditionTask(_ReferenceTask):
    """Input: the decimal digits of a, '+', the digits of b (each `length` digits,
    no leading zero unless length is 1); target: the digits of a + b."""

    name = "addition"
    description = "add two decimal numbers written digit by digit"

    @property
    def vocab(self) -> Vocab:
        return Vocab(digit_symbols(10) + ("+",))

    def _number(self, rng: np.random.Generator, length: int) -> str:
        first = int(rng.integers(1 if length > 1 else 0, 10))
        rest = rng.integers(0, 10, size=length - 1)
        return str(first) + "".join(str(int(d)) for d in rest)

    def make(self, rng: np.random.Generator, length: int) -> Example:
        check_length(length)
        a = self._number(rng, length)
        b = self._number(rng, length)
        vocab = self.vocab
        source = tuple(vocab.encode(list(a) + ["+"] + list(b)))
        target = tuple(vocab.encode(list(str(int(a) + int(b)))))
        return Example(source=source, target=target)

    def max_target_len(self, max_length: int) -> int:
        check_length(max_length)
        return max_length + 1
