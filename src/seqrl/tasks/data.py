"""Deterministic training batches and a held-out validation set for a task.

* The split: an input is held out iff a stable hash of (seed, source) falls in the first
  `holdout` fraction of hash space. Training never sees a held-out input; validation draws only
  held-out inputs. A hash split (rather than "whatever validation happened to draw") keeps small
  input spaces fair: of the ten one-digit inputs of `reverse`, about `holdout` x 10 are held out
  and the rest are trained on.
* Validation: `val_size` distinct held-out examples drawn once from
  `numpy.random.default_rng([seed, 1])`, lengths uniform in [val_min_len, val_max_len].
* Training: `train_batch(step, size)` is a pure function of (seed, step, size), drawn from
  `default_rng([seed, 0, step])` with lengths uniform in [train_min_len, train_max_len];
  held-out inputs are rejected and redrawn.

Validation lengths may exceed the training ones to measure length generalisation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import hashlib
from typing import Sequence


from seqrl import seeds
from seqrl.rollout import Batch, pad_sequences
from seqrl.tasks.base import Example, Task
from seqrl.vocab import DEFAULT_SPECIALS, Specials

# Consecutive rejected draws (duplicates, or validation inputs) before giving up on a
# too-small example space: a new example is then rarer than about 1 draw in 1000.
_MAX_MISSES = 2000


def _check_range(lo_name: str, lo: int, hi_name: str, hi: int) -> None:
    for name, value in ((lo_name, lo), (hi_name, hi)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if lo > hi:
        raise ValueError(f"{lo_name} ({lo}) must be <= {hi_name} ({hi})")


@dataclass(frozen=True)
class TaskData:
    """A task's fixed validation set and its step-indexed training batches."""

    task: Task
    seed: int
    train_min_len: int
    train_max_len: int
    val_min_len: int
    val_max_len: int
    val_size: int
    holdout: float = 0.1
    validation: tuple[Example, ...] = field(init=False, repr=False, compare=False)
    val_sources: frozenset[tuple[int, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        _check_range("train_min_len", self.train_min_len, "train_max_len", self.train_max_len)
        _check_range("val_min_len", self.val_min_len, "val_max_len", self.val_max_len)
        if isinstance(self.val_size, bool) or not isinstance(self.val_size, int) or self.val_size < 0:
            raise ValueError(f"val_size must be a non-negative integer, got {self.val_size!r}")
        if not 0.0 < self.holdout < 1.0:
            raise ValueError(f"holdout must be in (0, 1), got {self.holdout!r}")
        validation = self._draw_validation()
        object.__setattr__(self, "validation", validation)
        object.__setattr__(self, "val_sources", frozenset(ex.source for ex in validation))

    def held_out(self, source: tuple[int, ...]) -> bool:
        """True if `source` belongs to the validation side of the split (stable across runs)."""
        digest = hashlib.blake2b(repr((self.seed, tuple(source))).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") / 2**64 < self.holdout

    def _draw_validation(self) -> tuple[Example, ...]:
        rng = seeds.data_rng(self.seed, seeds.VALIDATION)
        seen: set[tuple[int, ...]] = set()
        out: list[Example] = []
        misses = 0
        while len(out) < self.val_size:
            ex = self.task.make(rng, int(rng.integers(self.val_min_len, self.val_max_len + 1)))
            if ex.source in seen or not self.held_out(ex.source):
                misses += 1
                if misses >= _MAX_MISSES:
                    raise ValueError(
                        f"val_size={self.val_size} is too large: only {len(out)} distinct held-out examples "
                        f"found for lengths {self.val_min_len}..{self.val_max_len} with holdout={self.holdout}; "
                        f"lower val_size or raise holdout"
                    )
                continue
            misses = 0
            seen.add(ex.source)
            out.append(ex)
        return tuple(out)

    def train_batch(self, step: int, size: int) -> list[Example]:
        """`size` training examples for `step`; the same (seed, step, size) always gives the same batch."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"step must be a non-negative integer, got {step!r}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive integer, got {size!r}")
        rng = seeds.data_rng(self.seed, seeds.TRAIN_BATCH, step)
        out: list[Example] = []
        misses = 0
        while len(out) < size:
            ex = self.task.make(rng, int(rng.integers(self.train_min_len, self.train_max_len + 1)))
            if self.held_out(ex.source):
                misses += 1
                if misses >= _MAX_MISSES:
                    raise ValueError(
                        f"could not draw a training batch at step {step}: almost every input of lengths "
                        f"{self.train_min_len}..{self.train_max_len} is held out for validation; "
                        f"lower holdout or widen the training lengths"
                    )
                continue
            misses = 0
            out.append(ex)
        return out


def collate(examples: Sequence[Example], specials: Specials = DEFAULT_SPECIALS) -> Batch:
    """Pad examples into a Batch; targets get EOS appended, tgt is None when no example has a target.
    `specials` are the ids of the model's tokenizer (seqrl's 0/1/2 by default)."""
    if not examples:
        raise ValueError("examples must not be empty")
    src, src_mask = pad_sequences([list(ex.source) for ex in examples], specials.pad)
    has_target = [ex.target is not None for ex in examples]
    if not any(has_target):
        return Batch(src=src, src_mask=src_mask)
    if not all(has_target):
        missing = has_target.index(False)
        raise ValueError(f"examples mix targets and no targets (examples[{missing}] has none)")
    tgt, tgt_mask = pad_sequences([list(ex.target or ()) + [specials.eos] for ex in examples], specials.pad)
    return Batch(src=src, src_mask=src_mask, tgt=tgt, tgt_mask=tgt_mask)
