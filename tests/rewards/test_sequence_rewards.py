"""Partial credit and exact match on hand-computed cases."""
from __future__ import annotations

import pytest

from seqrl.rewards.sequence import exact_match, partial_credit, partial_credit_tokens, partial_credit_tokens_one

CASES = [
    # completion, reference, partial credit
    ([3, 4, 5], [3, 4, 5], 1.0),
    ([3, 4], [3, 4, 5, 6], 2 / 4),  # missing tokens
    ([3, 4, 5, 6, 7], [3, 4, 5], 3 / 5),  # extra tokens
    ([4, 3], [3, 4], 0.0),
    ([3, 9, 5], [3, 4, 5], 2 / 3),
    ([], [3, 4], 0.0),
    ([3], [], 0.0),
    ([], [], 1.0),  # 0/0 := 1
]


def test_partial_credit_cases():
    comps = [c for c, _, _ in CASES]
    refs = [r for _, r, _ in CASES]
    assert partial_credit(comps, refs, comps) == pytest.approx([v for _, _, v in CASES])


def test_exact_match():
    comps = [c for c, _, _ in CASES]
    refs = [r for _, r, _ in CASES]
    assert exact_match(comps, refs, comps) == [1.0 if v == 1.0 else 0.0 for _, _, v in CASES]


def test_token_rewards_sum_to_sequence_reward():
    comps = [c for c, _, _ in CASES]
    refs = [r for _, r, _ in CASES]
    for c, toks, (_, _, v) in zip(comps, partial_credit_tokens(comps, refs, comps), CASES):
        assert len(toks) == len(c) + 1
        assert sum(toks) == pytest.approx(v)
    assert partial_credit_tokens([[3, 9, 5]], [[3, 4, 5]], [[0]])[0] == pytest.approx([1 / 3, 0, 1 / 3, 0])
    assert partial_credit_tokens([[3]], [[3]], [[0]])[0] == [1.0, 0.0]  # stop after 3: full credit
    assert partial_credit_tokens([[3, 4]], [[3]], [[0]])[0] == [1.0, 0.0, -0.5]  # go on: EOS takes half back


def test_token_rewards_are_causal():
    """A token's reward depends only on the prefix up to it: extending a completion never changes
    the rewards of the tokens already there (only the EOS entry carries the length term)."""
    import itertools

    for ref in ([3], [3, 4], [4, 3, 5]):
        for n in range(4):
            for c in itertools.product([3, 4, 5], repeat=n):
                head = partial_credit_tokens_one(list(c), ref)[:-1]
                for more in ([3], [5, 4]):
                    assert partial_credit_tokens_one(list(c) + more, ref)[:n] == head


def test_none_reference_is_not_applicable():
    assert partial_credit([[3], [4]], [None, [4]], [[3], [4]]) == [None, 1.0]
    assert exact_match([[3]], None, [[3]]) == [None]
    assert partial_credit_tokens([[3]], [None], [[3]]) == [None]
    with pytest.raises(ValueError, match="references"):
        partial_credit([[3]], [[3], [4]], [[3]])
