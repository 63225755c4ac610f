"""Reward workers fail loud: a hang hits the timeout, a dead worker is named, nothing is retried
in the trainer's own process, and no worker outlives its trainer."""
import os
import signal
import subprocess
import sys
import time

import pytest

from seqrl.rewards.checked import RewardError, evaluate_rewards
from seqrl.rewards.deadline import TimedReward
from seqrl.rewards.pool import PooledReward
from tests.conftest import process_running
from tests.rewards import pool_rewards

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _completions(bad: int, n: int = 8) -> list[list[int]]:
    out = [[3, 4] for _ in range(n)]
    out[bad] = [3, 7]
    return out


def _score(fn, completions, step=5):
    n = len(completions)
    return evaluate_rewards(fn, completions, [None] * n, [[1]] * n, None, step=step)


def test_a_hanging_worker_hits_the_timeout_and_names_step_and_samples():
    pool = PooledReward(pool_rewards.hangs_on_seven, workers=2, group=4, timeout=1.0)
    began = time.monotonic()
    with pytest.raises(RewardError, match=r"step 5: did not return within task.reward_timeout=1 s; it was "
                                          r"scoring samples 4..7"):
        _score(pool, _completions(bad=6))
    assert time.monotonic() - began < 10
    assert pool._pool == []  # the hung worker was killed; the next call starts fresh workers
    assert _score(pool, [[3]] * 8).values.tolist() == [1.0] * 8
    pool.close()


@pytest.mark.parametrize("fn, how", [(pool_rewards.exits_on_seven, "exited with code 3"),
                                     (pool_rewards.segfaults_on_seven, "killed by SIGSEGV")])
def test_a_dying_worker_is_named_without_retrying_in_the_trainer(fn, how):
    pool = PooledReward(fn, workers=2, group=4, timeout=30)
    with pytest.raises(RewardError, match=rf"step 5: the reward worker \(pid \d+\) (was )?{how} while scoring "
                                          r"them; it was scoring samples 0..3"):
        _score(pool, _completions(bad=2))
    pool.close()


def test_a_one_sample_call_still_runs_in_a_worker():
    pool = PooledReward(pool_rewards.worker_pid, workers=2, group=4)
    (pid,) = pool([[3]], [None], [[1]])
    assert pid != os.getpid()
    pool.close()


def test_the_culprit_search_stays_isolated():
    """The batch call fails (ValueError), the per-sample search then kills a worker: the error
    names that one sample and the trainer's process is alive to report it."""
    pool = PooledReward(pool_rewards.raises_on_seven, workers=2, group=4)
    with pytest.raises(RewardError, match=r"sample 6 .*ValueError: seven in pid (\d+)") as err:
        _score(pool, _completions(bad=6))
    assert int(err.value.args[0].rsplit("pid ", 1)[1]) != os.getpid()
    pool.close()


def test_sys_exit_in_a_reward_names_the_reward():
    for fn in (pool_rewards.sys_exit, PooledReward(pool_rewards.sys_exit, workers=2)):
        with pytest.raises(RewardError, match=r"'sys_exit' raised at step 5 on sample 0 .*sys.exit\(4\)"):
            _score(fn, [[3]] * 4)


def test_in_process_timeout_interrupts_python_code():
    timed = TimedReward(pool_rewards.hangs_on_seven, 0.5)
    with pytest.raises(RewardError, match=r"step 5: did not return within task.reward_timeout=0.5 s"):
        _score(timed, _completions(bad=1))
    assert _score(timed, [[3]] * 4).valid.all()


def test_workers_exit_when_the_trainer_is_killed(tmp_path):
    """SIGKILL a process that holds a pool mid-call: its workers (and the resource tracker) go too."""
    script = (
        "import sys, time\n"
        "from seqrl.rewards.pool import PooledReward\n"
        "from tests.rewards import pool_rewards\n"
        "pool = PooledReward(pool_rewards.worker_pid, workers=2, group=1)\n"
        "pids = pool([[3]] * 4, [None] * 4, [[1]] * 4)\n"
        "print(' '.join(str(int(p)) for p in sorted(set(pids))), flush=True)\n"
        "pool.fn = pool_rewards.hangs_on_seven\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    workers = [int(p) for p in proc.stdout.readline().split()]
    assert len(workers) == 2
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    alive = [int(p) for p in children]
    while alive and time.time() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if process_running(p)]
    assert not alive, f"processes outlived their trainer: {alive}"
    assert set(workers) <= {int(p) for p in children}

