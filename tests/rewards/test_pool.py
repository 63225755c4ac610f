"""PooledReward: chunks of whole groups, one batched call per worker, same values, errors kept."""
import pytest

from seqrl.rewards.checked import RewardError, evaluate_rewards
from seqrl.rewards.pool import PooledReward, chunk_bounds
from tests.rewards import pool_rewards


def test_chunk_bounds_cover_everything_in_whole_groups():
    assert chunk_bounds(32, 2, 4) == [(0, 16), (16, 32)]
    assert chunk_bounds(12, 5, 4) == [(0, 4), (4, 8), (8, 12)]  # 3 groups: at most 3 chunks
    assert chunk_bounds(7, 3, 4) == [(0, 3), (3, 5), (5, 7)]  # not whole groups: single samples
    assert chunk_bounds(0, 2, 4) == [(0, 0)]
    for n, w, g in ((50, 4, 5), (9, 2, 3), (1, 8, 1)):
        b = chunk_bounds(n, w, g)
        assert b[0][0] == 0 and b[-1][1] == n and all(x[1] == y[0] for x, y in zip(b, b[1:]))


@pytest.fixture(scope="module")
def pooled():
    fns = {name: PooledReward(getattr(pool_rewards, name), workers=2, group=4)
           for name in ("call_size_in_child", "length", "raises_on_seven", "echo_column")}
    yield fns
    for fn in fns.values():
        fn.close()


def test_each_worker_gets_one_batched_call_of_whole_groups(pooled):
    completions = [[3]] * 32  # 8 inputs x k=4
    values = pooled["call_size_in_child"](completions, [None] * 32, [[1]] * 32)
    assert values == [16.0] * 32  # two calls of 16 (4 whole groups each), both in worker processes


def test_values_equal_an_in_process_call_and_columns_are_split(pooled):
    completions = [[3] * (i % 5) for i in range(24)]
    args = (completions, [None] * 24, [[1]] * 24)
    assert pooled["length"](*args) == pool_rewards.length(*args)
    assert pooled["echo_column"](*args, tag=list(range(24))) == [float(i) for i in range(24)]


def test_a_raising_worker_is_blamed_on_the_sample(pooled):
    completions = [[3, 4]] * 8
    completions[5] = [3, 7]
    with pytest.raises(RewardError, match=r"sample 5 .*seven in pid"):
        evaluate_rewards(pooled["raises_on_seven"], completions, [None] * 8, [[1]] * 8, None, step=3)


def test_unpicklable_rewards_are_refused_up_front():
    with pytest.raises(ValueError, match="must be picklable"):
        PooledReward(lambda c, r, s: [0.0] * len(c), workers=2)
