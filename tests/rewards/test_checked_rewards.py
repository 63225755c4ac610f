"""Checked evaluation of user reward functions."""
from __future__ import annotations

import math

import pytest
import torch

from seqrl.rewards.checked import RewardError, evaluate_rewards, evaluate_token_rewards
from seqrl.rewards.sequence import partial_credit, partial_credit_tokens

COMPS = [[3, 4], [5], [6, 7, 8]]
REFS = [[3, 4], [4], [6, 7]]
SRCS = [[1], [2], [3]]


def render(tokens):
    return "".join(chr(ord("a") + t) for t in tokens)


def run(fn, on_error="raise", columns=None, **kw):
    return evaluate_rewards(fn, COMPS, REFS, SRCS, columns or {}, step=42, on_error=on_error, render=render, **kw)


def test_ok_values_and_none():
    res = run(partial_credit)
    assert res.values.dtype == torch.float32 and res.values.shape == (3,)
    assert res.values.tolist() == pytest.approx([1.0, 0.0, 2 / 3])
    assert res.valid.tolist() == [True] * 3 and res.skipped == 0
    res = run(lambda c, r, s: [None, 0.5, 1])
    assert res.values.tolist() == [0.0, 0.5, 1.0]
    assert res.valid.tolist() == [False, True, True] and res.skipped == 0


def test_columns_are_passed():
    res = run(lambda c, r, s, weight: [w * 1.0 for w in weight], columns={"weight": [1, 2, 3]})
    assert res.values.tolist() == [1.0, 2.0, 3.0]


def test_raising_fn_names_step_sample_and_exception():
    def fn(completions, references, sources):
        return [1.0 / (len(c) - 1) for c in completions]  # sample 1 divides by zero

    with pytest.raises(RewardError, match=r"step 42.*sample 1.*'f'.*ZeroDivisionError"):
        run(fn)
    res = run(fn, on_error="skip")
    assert res.valid.tolist() == [True, False, True] and res.skipped == 1
    assert res.values.tolist() == [1.0, 0.0, 0.5]


def test_raising_fn_without_culprit_always_raises():
    def fn(completions, references, sources):
        if len(completions) > 1:
            raise RuntimeError("batch too big")
        return [1.0]

    for mode in ("raise", "skip"):
        with pytest.raises(RewardError, match=r"step 42.*RuntimeError: batch too big.*no single sample"):
            run(fn, on_error=mode)


def test_wrong_length():
    for mode in ("raise", "skip"):
        with pytest.raises(RewardError, match=r"step 42.*returned 2 values for 3 completions"):
            run(lambda c, r, s: [1.0, 1.0], on_error=mode)
    with pytest.raises(RewardError, match="expected a list of 3"):
        run(lambda c, r, s: 1.0)


@pytest.mark.parametrize(
    "bad, pattern",
    [(math.nan, r"non-finite value nan"), (math.inf, r"non-finite value inf"), ("1.0", r"'1.0'.*not a real number"),
     ([1.0], r"not a real number"), (1j, r"not a real number")],
)
def test_bad_values(bad, pattern):
    fn = lambda c, r, s: [1.0, 0.5, bad]  # noqa: E731
    with pytest.raises(RewardError, match=rf"step 42: sample 2 has .*{pattern}.*completion 'ghi'"):
        run(fn)
    res = run(fn, on_error="skip")
    assert res.valid.tolist() == [True, True, False] and res.skipped == 1
    assert res.values.tolist() == [1.0, 0.5, 0.0]


def test_tensor_and_numpy_returns_accepted():
    assert run(lambda c, r, s: torch.tensor([1.0, 0.0, 0.5])).values.tolist() == [1.0, 0.0, 0.5]
    assert run(lambda c, r, s: [True, False, 1]).values.tolist() == [1.0, 0.0, 1.0]


def test_on_error_validated():
    with pytest.raises(ValueError, match="on_error"):
        run(partial_credit, on_error="ignore")


def run_tokens(fn, on_error="raise", **kw):
    return evaluate_token_rewards(fn, COMPS, REFS, SRCS, {}, step=7, on_error=on_error, render=render, **kw)


def test_token_rewards_aligned_to_mask():
    res = run_tokens(partial_credit_tokens)
    assert res.values.shape == (3, 4)
    seq = torch.tensor(partial_credit(COMPS, REFS, SRCS))
    assert torch.allclose(res.values.sum(dim=1), seq)
    # 3 tokens, 2 of them matching a 2-token reference: 1/2 each, and the length term at EOS
    assert res.values[2].tolist() == pytest.approx([0.5, 0.5, 0.0, 2 / 3 - 1.0])
    eos = lambda c, r, s: [[0.0] * len(x) + [9.0] for x in c]  # noqa: E731
    res = run_tokens(eos, width=5)
    assert res.values.shape == (3, 5)
    assert res.values[0].tolist() == [0, 0, 9, 0, 0] and res.values[1].tolist() == [0, 9, 0, 0, 0]
    # A row filling every column was cut off without EOS: its EOS entry joins the last token.
    res = run_tokens(eos, width=3)
    assert res.values[2].tolist() == [0, 0, 9]
    with pytest.raises(ValueError, match="width"):
        run_tokens(eos, width=2)


def test_token_reward_errors_and_skip():
    short = lambda c, r, s: [[0.0] * (len(x) + 1) if i != 1 else [0.0] for i, x in enumerate(c)]  # noqa: E731
    with pytest.raises(RewardError, match=r"step 7: sample 1 has 1 token rewards but needs 2.*completion 'f'"):
        run_tokens(short)
    wrong = lambda c, r, s: [[0.0] * len(x) for x in c]  # noqa: E731
    with pytest.raises(RewardError, match=r"step 7: sample 0 has 2 token rewards but needs 3.*completion 'de'"):
        run_tokens(wrong)
    nan = lambda c, r, s: [[0.0] * len(x) + [math.nan if i == 2 else 1.0] for i, x in enumerate(c)]  # noqa: E731
    with pytest.raises(RewardError, match=r"sample 2 has non-finite value nan at token 3"):
        run_tokens(nan)
    res = run_tokens(nan, on_error="skip")
    assert res.valid.tolist() == [True, True, False] and res.skipped == 1
    assert res.values[2].tolist() == [0, 0, 0, 0]
    res = run_tokens(lambda c, r, s: [None, [0.0, 1.0], [0.0] * 4])
    assert res.valid.tolist() == [False, True, True] and res.skipped == 0
    with pytest.raises(RewardError, match="returned 1 values for 3"):
        run_tokens(lambda c, r, s: [[0.0]], on_error="skip")
