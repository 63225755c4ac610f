"""The reference-free digit-sum task."""
from __future__ import annotations

import numpy as np
import pytest

from seqrl.tasks.digit_sum import DigitSumTask

TASK = DigitSumTask()
V = TASK.vocab


def src(t: int) -> list[int]:
    return V.encode(["S"] + list(str(t)))


def digits(s: str) -> list[int]:
    return V.encode(list(s))


def test_make_is_deterministic_and_in_range():
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    for length in (1, 2, 6):
        for _ in range(30):
            ex = TASK.make(rng_a, length)
            assert ex == TASK.make(rng_b, length)
            assert ex.target is None
            assert 1 <= TASK.goal(ex.source) <= 9 * length
    assert not TASK.has_reference
    assert TASK.max_target_len(100) == 6
    with pytest.raises(ValueError, match="length"):
        TASK.make(np.random.default_rng(0), 7)
    with pytest.raises(ValueError, match="max_digits"):
        DigitSumTask(max_digits=0)


@pytest.mark.parametrize(
    "t, completion, expected",
    [
        (17, digits("89"), 1.0),
        (17, digits("0809"), 1.0),
        (17, digits("8"), 0.5 * (1 - 9 / 17)),
        (17, digits("99"), 0.5 * (1 - 1 / 17)),
        (5, digits("9999"), 0.0),  # sum 36: far past t, clipped at 0
        (5, [], 0.0),
        (5, digits("0000005"), 0.5),  # right sum but 7 > max_digits tokens
        (17, V.encode(["8", "S", "9"]), 0.0),  # non-digit token
    ],
)
def test_reward_cases(t, completion, expected):
    assert TASK.reward([completion], [None], [src(t)]) == pytest.approx([expected])


def test_token_reward_on_eos_and_metrics():
    comps = [digits("89"), digits("8"), []]
    srcs = [src(17)] * 3
    rewards = TASK.reward(comps, [None] * 3, srcs)
    tok = TASK.token_reward(comps, [None] * 3, srcs)
    for c, r, seq in zip(comps, tok, rewards):
        assert len(r) == len(c) + 1
        assert r[:-1] == [0.0] * len(c) and r[-1] == pytest.approx(seq)
    m = TASK.metrics(comps, [None] * 3, srcs)
    assert m["success_rate"] == pytest.approx(1 / 3)
    assert m["reward"] == pytest.approx(sum(rewards) / 3)
