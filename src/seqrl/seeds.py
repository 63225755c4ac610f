"""Every random stream seqrl draws, derived in one place from (seed, step, rank, purpose).

Exact resume rests on one invariant: each stream is a pure function of the run's seed and where
it is used (the step, the data-parallel rank, the environment, the repeat of a measurement), so a
resumed run needs no generator state to draw what an uninterrupted run would have drawn, and no
two purposes share a stream. tests/test_seeds.py checks that the streams are distinct over a grid
of (seed, step, rank, index) and that their formulas have not changed (checkpoints written before
this file existed resume bit-exact: tests/train/test_old_runs.py).

Three families of generator, each distinct within itself:
- torch CPU generators: `sampling` (a step's samples and actions), `minibatch` (DQN's replay
  draws), `diagnostic` (run.diagnostics' re-estimates), `rank_dropout` (the global stream of a
  data-parallel rank: dropout), and `seed_global` (model initialisation);
- numpy `SeedSequence` entropy lists: `data_entropy` (a task's training batches, validation set,
  text shuffles, streamed data), and `env_reset` (gymnasium's reset seeds, an int);
- Python's `random`: `alternate_draw` (curriculum.kind=alternate's coin).
"""
from __future__ import annotations

import random

import numpy as np
import torch

PRIME = 1_000_003  # seeds are spread by this, steps added within one seed's range
MINIBATCH_OFFSET = 2**40  # DQN minibatches: a range no sampling seed reaches
DIAGNOSTIC_OFFSET = 2**62  # diagnostics: above every other torch stream
RANK_OFFSET = 2**50  # data-parallel dropout: apart from the sampling and minibatch ranges

# numpy entropy lists: [seed, purpose, ...]; one purpose number per use
TRAIN_BATCH, VALIDATION, TEXT_SHUFFLE, STREAM = 0, 1, 2, 3


def seed_global(seed: int) -> None:
    """The global torch and numpy generators at the start of a run (model initialisation)."""
    torch.manual_seed(seed)
    np.random.seed(seed)


def seed_torch(seed: int) -> None:
    """The global torch generator alone (a pretrained model's new heads)."""
    torch.manual_seed(seed)


def sampling_seed(seed: int, step: int) -> int:
    return seed * PRIME + step + 1


def sampling(seed: int, step: int) -> torch.Generator:
    """The sampling stream of `step` (sequences sampled, actions drawn in episodes)."""
    return torch.Generator().manual_seed(sampling_seed(seed, step))


def minibatch_seed(seed: int, step: int) -> int:
    return sampling_seed(seed, step) + MINIBATCH_OFFSET


def minibatch(seed: int, step: int) -> torch.Generator:
    """DQN's replay-buffer minibatches of `step`: apart from the acting stream."""
    return torch.Generator().manual_seed(minibatch_seed(seed, step))


def diagnostic_seed(seed: int, step: int, repeat: int) -> int:
    mixed = (seed * PRIME + step * 10_007 + repeat + 1) * 2_654_435_761 % 2**62
    return mixed + DIAGNOSTIC_OFFSET


def diagnostic(seed: int, step: int, repeat: int) -> torch.Generator:
    """The sampling stream of re-estimate `repeat` at `step` (run.diagnostics)."""
    return torch.Generator().manual_seed(diagnostic_seed(seed, step, repeat))


def rank_seed(seed: int, step: int, rank: int) -> int:
    """The global torch stream of data-parallel `rank` at `step` (dropout)."""
    return (seed * PRIME + step) * 1009 + rank + 7 + RANK_OFFSET


def env_reset(seed: int, step: int, index: int) -> int:
    """The reset seed of environment `index` at `step` (step -1: validation episodes)."""
    return (seed * PRIME + (step + 1) * 10_007 + index) % (2**31 - 1)


def data_entropy(seed: int, purpose: int, *where: int) -> list[int]:
    """The entropy of a numpy generator for a task's data: [seed, purpose, step or epoch...]."""
    return [seed, purpose, *where]


def data_rng(seed: int, purpose: int, *where: int) -> np.random.Generator:
    return np.random.default_rng(data_entropy(seed, purpose, *where))


def alternate_draw(seed: int, step: int) -> float:
    """curriculum.kind=alternate: a uniform number in [0, 1) that depends only on (seed, step)."""
    return random.Random(f"seqrl-alternate-{seed}-{step}").random()
