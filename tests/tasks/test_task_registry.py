"""Task registry."""
from __future__ import annotations

import pytest

from seqrl.tasks import TASKS, Task, describe_tasks, make_task


def test_every_task_builds_and_follows_protocol():
    for name in TASKS:
        task = make_task(name)
        assert isinstance(task, Task)
        assert task.name == name
    assert make_task("copy", base=5).vocab.size == 3 + 5


def test_unknown_name_suggests():
    with pytest.raises(ValueError, match="did you mean 'reverse'"):
        make_task("revrse")
    with pytest.raises(ValueError, match="unknown task 'zzz'"):
        make_task("zzz")
    with pytest.raises(ValueError, match="invalid options"):
        make_task("addition", base=8)


def test_describe_tasks():
    described = describe_tasks()
    assert [n for n, _ in described] == sorted(TASKS)
    assert all(d for _, d in described)
