"""A reward module whose import fails (task.reward=tests.rewards.broken_import:reward)."""
raise RuntimeError("the scorer's model file is missing")


def reward(completions, references, sources, **columns):  # pragma: no cover - never reached
    return [0.0] * len(completions)
