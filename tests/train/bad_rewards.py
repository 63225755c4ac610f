"""Reward functions that misbehave on purpose, loaded by `module:function` in tests."""
from __future__ import annotations

CALLS = {"n": 0}


def _count() -> int:
    CALLS["n"] += 1
    return CALLS["n"]


def nan_on_third_call(completions, references, sources, **columns):
    n = _count()
    return [float("nan") if (n >= 3 and i == 5) else 0.5 for i in range(len(completions))]


def raises_on_third_call(completions, references, sources, **columns):
    n = _count()
    if n >= 3 and any(len(c) == 2 for c in completions):
        raise ZeroDivisionError("boom")
    return [1.0] * len(completions)


def none_for_odd(completions, references, sources, **columns):
    return [None if i % 2 else float(len(c)) for i, c in enumerate(completions)]


def wrong_length(completions, references, sources, **columns):
    return [0.0]


def always_none(completions, references, sources, **columns):
    return [None] * len(completions)
