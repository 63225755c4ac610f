"""Generators and default rewards of the algorithmic tasks."""
from __future__ import annotations

import numpy as np
import pytest

from seqrl.tasks.algorithmic import AdditionTask, CopyTask, RepeatCopyTask, ReverseTask, SortTask
from seqrl.vocab import SPECIALS

ALL = [CopyTask(), ReverseTask(), SortTask(), RepeatCopyTask(), AdditionTask(), CopyTask(base=4), SortTask(base=3)]


def symbols(task, ids):
    return task.vocab.decode(list(ids))


@pytest.mark.parametrize("task", ALL, ids=lambda t: f"{t.name}")
def test_deterministic_per_seed(task):
    a = [task.make(np.random.default_rng(7), n) for n in (1, 3, 5)]
    b = [task.make(np.random.default_rng(7), n) for n in (1, 3, 5)]
    c = [task.make(np.random.default_rng(8), n) for n in (5, 5, 5)]
    assert a == b
    assert c != [task.make(np.random.default_rng(7), n) for n in (5, 5, 5)]


@pytest.mark.parametrize("task", ALL, ids=lambda t: f"{t.name}")
def test_ids_are_plain_ints_in_vocab(task):
    ex = task.make(np.random.default_rng(0), 4)
    for ids in (ex.source, ex.target):
        assert isinstance(ids, tuple)
        assert all(type(i) is int and len(SPECIALS) <= i < task.vocab.size for i in ids)
    assert len(ex.target) <= task.max_target_len(4)


def test_copy_and_reverse_semantics():
    rng = np.random.default_rng(1)
    for n in range(1, 12):
        ex = CopyTask().make(rng, n)
        assert len(ex.source) == n and ex.target == ex.source
        ex = ReverseTask().make(rng, n)
        assert len(ex.source) == n
        assert tuple(reversed(ex.target)) == ex.source  # reverse of reverse


def test_base_limits_symbols():
    ex = CopyTask(base=3).make(np.random.default_rng(0), 50)
    assert set(symbols(CopyTask(base=3), ex.source)) <= {"0", "1", "2"}
    with pytest.raises(ValueError, match="base"):
        CopyTask(base=1)


def test_sort_semantics():
    task = SortTask()
    rng = np.random.default_rng(2)
    for n in range(1, 15):
        ex = task.make(rng, n)
        values = [int(s) for s in symbols(task, ex.target)]
        assert values == sorted(values)
        assert sorted(symbols(task, ex.source)) == sorted(symbols(task, ex.target))


def test_repeat_copy_semantics():
    task = RepeatCopyTask()
    rng = np.random.default_rng(3)
    seen = set()
    for _ in range(60):
        n = int(rng.integers(1, 6))
        ex = task.make(rng, n)
        src = symbols(task, ex.source)
        assert src[-2] == "#" and len(src) == n + 2
        count = int(src[-1])
        seen.add(count)
        assert symbols(task, ex.target) == src[:-2] * count
        assert len(ex.target) <= task.max_target_len(n)
    assert seen == {1, 2, 3}
    assert "3" in RepeatCopyTask(base=2, max_repeats=3).vocab.symbols


def test_addition_semantics():
    task = AdditionTask()
    rng = np.random.default_rng(4)
    for n in (1, 2, 5, 25):
        for _ in range(10):
            ex = task.make(rng, n)
            a, b = "".join(symbols(task, ex.source)).split("+")
            assert len(a) == len(b) == n
            if n > 1:
                assert a[0] != "0" and b[0] != "0"
            assert int("".join(symbols(task, ex.target))) == int(a) + int(b)
            assert len(ex.target) <= task.max_target_len(n)


def test_bad_length():
    with pytest.raises(ValueError, match="length"):
        CopyTask().make(np.random.default_rng(0), 0)
    with pytest.raises(ValueError, match="length"):
        AdditionTask().max_target_len(0)


def test_default_reward_and_metrics():
    task = CopyTask()
    ref = [3, 4, 5, 6]
    comps = [[3, 4, 5, 6], [3, 4], [3, 4, 5, 6, 7, 8], [9, 4, 5, 6], []]
    refs = [ref] * len(comps)
    srcs = [ref] * len(comps)
    assert task.reward(comps, refs, srcs) == pytest.approx([1.0, 0.5, 4 / 6, 0.75, 0.0])
    tok = task.token_reward(comps, refs, srcs)
    for c, r, seq in zip(comps, tok, task.reward(comps, refs, srcs)):
        assert len(r) == len(c) + 1
        assert sum(r) == pytest.approx(seq)
    m = task.metrics(comps, refs, srcs)
    assert m["exact_match"] == pytest.approx(0.2)
    assert m["partial_credit"] == pytest.approx((1 + 0.5 + 4 / 6 + 0.75) / 5)
    with pytest.raises(ValueError, match="references"):
        task.reward([[3]], [None], [[3]])
    with pytest.raises(ValueError, match="sources"):
        task.reward([[3]], [[3]], [])
