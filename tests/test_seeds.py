"""seqrl.seeds: every random stream is distinct across (seed, step, rank, index, purpose), and
the formulas are the ones checkpoints were written with (so old runs resume bit-exact)."""
from __future__ import annotations

import itertools

import numpy as np
import torch

from seqrl import seeds

SEEDS, STEPS = range(0, 40), range(0, 300)


def test_torch_streams_never_share_a_seed():
    """Sampling, DQN minibatches, diagnostics and data-parallel dropout: one generator family, so
    no two (purpose, seed, step, rank/repeat) may start from the same seed."""
    owner: dict[int, tuple] = {}
    keys = itertools.chain(
        ((("sampling", s, t), seeds.sampling_seed(s, t)) for s in SEEDS for t in STEPS),
        ((("minibatch", s, t), seeds.minibatch_seed(s, t)) for s in SEEDS for t in STEPS),
        ((("diagnostic", s, t, r), seeds.diagnostic_seed(s, t, r)) for s in SEEDS for t in STEPS for r in range(8)),
        ((("rank", s, t, k), seeds.rank_seed(s, t, k)) for s in SEEDS for t in STEPS for k in range(8)),
    )
    for key, value in keys:
        assert value not in owner, (key, owner.get(value))
        owner[value] = key
    for s in SEEDS:  # seed_global (manual_seed(seed)): never a stream of the same run
        assert s not in owner or owner[s][1] != s, owner[s]


def test_environment_resets_are_distinct_across_seed_step_and_environment():
    values = [seeds.env_reset(s, t, i) for s in SEEDS for t in range(-1, 300) for i in range(16)]
    assert len(set(values)) == len(values)
    assert all(0 <= v < 2**31 - 1 for v in values)


def test_data_streams_are_distinct_across_purpose_seed_and_step():
    firsts = {}
    for purpose in (seeds.TRAIN_BATCH, seeds.VALIDATION, seeds.TEXT_SHUFFLE, seeds.STREAM):
        for s in range(10):
            for t in range(50):
                draw = tuple(seeds.data_rng(s, purpose, t).integers(0, 2**62, size=2))
                assert draw not in firsts, ((purpose, s, t), firsts.get(draw))
                firsts[draw] = (purpose, s, t)


def test_the_streams_are_the_ones_old_checkpoints_were_written_with():
    """The formulas as they were before seqrl.seeds gathered them (changing one breaks exact
    resume of every run directory that exists)."""
    for s, t in [(0, 0), (3, 17), (12345, 99_999)]:
        assert seeds.sampling_seed(s, t) == s * 1_000_003 + t + 1
        assert seeds.minibatch_seed(s, t) == s * 1_000_003 + t + 1 + 2**40
        assert seeds.env_reset(s, t, 2) == (s * 1_000_003 + (t + 1) * 10_007 + 2) % (2**31 - 1)
        mixed = (s * 1_000_003 + t * 10_007 + 4 + 1) * 2_654_435_761 % 2**62
        assert seeds.diagnostic_seed(s, t, 4) == mixed + 2**62
        assert seeds.data_entropy(s, seeds.TRAIN_BATCH, t) == [s, 0, t]
    a = torch.rand(3, generator=seeds.sampling(5, 7))
    assert torch.equal(a, torch.rand(3, generator=torch.Generator().manual_seed(5 * 1_000_003 + 8)))
    assert np.array_equal(seeds.data_rng(2, seeds.VALIDATION).random(3), np.random.default_rng([2, 1]).random(3))
