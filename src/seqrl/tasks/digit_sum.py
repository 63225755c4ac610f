"""Digit sum: a task with no reference answer.

Input: the marker 'S' followed by the decimal digits of a target number t (17 is
'S 1 7'). The policy must emit at most `max_digits` digits whose digit sum is t.

Why cross-entropy cannot train it: there is no single reference output to imitate.
For t = 17 the answers '8 9', '9 8', '8 0 9', '1 7 9 0' ... are all correct, and a
dataset of "the" answers would have to pick one arbitrarily. Only a reward that
checks the property (digit sum == t) can score what the policy actually wrote, which
is what REINFORCE-style estimators optimise.

Difficulty (`length` in `make`) is the number of digits the example needs at most:
t is drawn uniformly from 1..9 * length, the range reachable with `length` digits,
so every example is solvable within `length` <= `max_digits` digits. Larger lengths
give larger targets, which need more (and more precisely chosen) digits.

Reward:
  1.0                               completion non-empty, at most `max_digits` tokens,
                                    all digits, and its digit sum is t
  0.5 * max(0, 1 - |sum - t| / t)   all digits but wrong sum, empty, or too long
                                    (shaped: closer sums earn more, never reaching 1.0)
  0.0                               any non-digit token
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from seqrl.tasks.algorithmic import digit_symbols
from seqrl.tasks.base import Example, Tokens, check_length, check_parallel
from seqrl.vocab import Vocab

MARKER = "S"


@dataclass(frozen=True)
class DigitSumTask:
    """Emit digits whose sum equals the number after 'S' (no reference; many valid answers)."""

    max_digits: int = 6
    name = "digit_sum"
    description = "emit at most max_digits digits whose sum is the given number (no reference answer)"
    has_reference = False

    def __post_init__(self) -> None:
        if isinstance(self.max_digits, bool) or not isinstance(self.max_digits, int) or self.max_digits < 1:
            raise ValueError(f"max_digits must be an integer >= 1, got {self.max_digits!r}")

    @property
    def vocab(self) -> Vocab:
        return Vocab(digit_symbols(10) + (MARKER,))

    def make(self, rng: np.random.Generator, length: int) -> Example:
        check_length(length, 1, self.max_digits)
        t = int(rng.integers(1, 9 * length + 1))
        return Example(source=tuple(self.vocab.encode([MARKER] + list(str(t)))), target=None)

    def max_target_len(self, max_length: int) -> int:
        check_length(max_length)
        return self.max_digits

    def goal(self, source: Tokens) -> int:
        """The target number t encoded in `source` ('S' then its digits)."""
        symbols = self.vocab.decode(list(source))
        if len(symbols) < 2 or symbols[0] != MARKER or not all(s.isdigit() for s in symbols[1:]):
            raise ValueError(f"source must be 'S' followed by digits, got {' '.join(symbols)!r}")
        return int("".join(symbols[1:]))

    def score(self, completion: Tokens, source: Tokens) -> float:
        """Reward of one completion for one source (see the module docstring)."""
        t = self.goal(source)
        digit_ids = {self.vocab.id(d): d for d in digit_symbols(10)}
        if any(tok not in digit_ids for tok in completion):
            return 0.0
        total = sum(int(digit_ids[tok]) for tok in completion)
        if completion and len(completion) <= self.max_digits and total == t:
            return 1.0
        return 0.5 * max(0.0, 1.0 - abs(total - t) / t)

    def reward(
        self, completions: Sequence[Tokens], references: Sequence[Optional[Tokens]], sources: Sequence[Tokens]
    ) -> list[float]:
        check_parallel(completions, references, sources)
        return [self.score(c, s) for c, s in zip(completions, sources)]

    def token_reward(
        self, completions: Sequence[Tokens], references: Sequence[Optional[Tokens]], sources: Sequence[Tokens]
    ) -> list[list[float]]:
        """The whole reward sits on the EOS position: no token earns credit on its own."""
        rewards = self.reward(completions, references, sources)
        return [[0.0] * len(c) + [r] for c, r in zip(completions, rewards)]

    def metrics(
        self, completions: Sequence[Tokens], references: Sequence[Optional[Tokens]], sources: Sequence[Tokens]
    ) -> dict[str, float]:
        if not completions:
            raise ValueError("completions must not be empty to compute metrics")
        rewards = self.reward(completions, references, sources)
        n = len(rewards)
        return {"reward": sum(rewards) / n, "success_rate": sum(r == 1.0 for r in rewards) / n}
