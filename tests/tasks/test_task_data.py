"""Validation set, deterministic training batches and collation."""
from __future__ import annotations

import pytest
import torch

from seqrl.tasks import TaskData, collate, make_task
from seqrl.tasks.base import Example
from seqrl.vocab import EOS, PAD


def data(**kw):
    args = dict(task=make_task("reverse", base=3), seed=11, train_min_len=2, train_max_len=4,
                val_min_len=3, val_max_len=6, val_size=60)
    args.update(kw)
    return TaskData(**args)


def test_validation_fixed_distinct_and_lengths():
    d = data()
    assert len(d.validation) == 60
    assert len({ex.source for ex in d.validation}) == 60
    assert all(3 <= len(ex.source) <= 6 for ex in d.validation)
    assert {len(ex.source) for ex in d.validation} == {3, 4, 5, 6}
    assert data().validation == d.validation
    assert data(seed=12).validation != d.validation


def test_train_batches_pure_and_disjoint_from_validation():
    d = data()
    b0 = d.train_batch(0, 64)
    assert b0 == data().train_batch(0, 64)  # pure in (seed, step)
    assert d.train_batch(1, 64) != b0
    assert data(seed=12).train_batch(0, 64) != b0
    for step in range(20):
        batch = d.train_batch(step, 64)
        assert len(batch) == 64
        assert all(2 <= len(ex.source) <= 4 for ex in batch)
        assert not {ex.source for ex in batch} & d.val_sources
    # Base 3 has only 27 + 81 inputs of lengths 3..4 and validation holds many of them,
    # so without rejection these batches would overlap it.
    assert sum(len(s) <= 4 for s in d.val_sources) >= 10


def test_argument_errors():
    with pytest.raises(ValueError, match="train_min_len"):
        data(train_min_len=5, train_max_len=4)
    with pytest.raises(ValueError, match="val_min_len"):
        data(val_min_len=0)
    with pytest.raises(ValueError, match="val_size"):
        data(val_size=10_000, val_min_len=1, val_max_len=1)
    with pytest.raises(ValueError, match="step"):
        data().train_batch(-1, 4)
    with pytest.raises(ValueError, match="size"):
        data().train_batch(0, 0)


def test_collate_with_and_without_targets():
    batch = collate([Example((3, 4, 5), (5, 4, 3)), Example((6,), (6,))])
    assert batch.src.tolist() == [[3, 4, 5], [6, PAD, PAD]]
    assert batch.src_mask.tolist() == [[True] * 3, [True, False, False]]
    assert batch.tgt.tolist() == [[5, 4, 3, EOS], [6, EOS, PAD, PAD]]
    assert batch.tgt_mask.sum(dim=1).tolist() == [4, 2]
    assert batch.tgt.dtype == torch.long
    no_ref = collate(data(task=make_task("digit_sum"), val_size=1, train_max_len=3,
                          val_min_len=1, val_max_len=3).train_batch(0, 4))
    assert no_ref.tgt is None and no_ref.tgt_mask is None and no_ref.size == 4
    with pytest.raises(ValueError, match="examples"):
        collate([])
    with pytest.raises(ValueError, match="examples"):
        collate([Example((3,), (3,)), Example((3,), None)])


def test_training_space_exhausted_by_holdout():
    # Base 2, length 1: two inputs; with holdout 0.9 both are (for this seed) held out.
    seed = next(s for s in range(100) if all(
        data(seed=s, holdout=0.9, val_size=1, val_min_len=1, val_max_len=1).held_out(x) for x in ((3,), (4,))))
    d = data(task=make_task("copy", base=2), seed=seed, holdout=0.9, train_min_len=1, train_max_len=1,
             val_min_len=1, val_max_len=1, val_size=2)
    with pytest.raises(ValueError, match="held out"):
        d.train_batch(0, 1)


def test_hash_split_holds_out_a_fraction_of_small_spaces():
    """Of the ten one-digit reverse inputs about 10% are held out, the rest are trained on."""
    d = data(task=make_task("reverse"), train_min_len=1, train_max_len=1, val_min_len=1, val_max_len=8,
             val_size=100, holdout=0.1)
    one_digit = {(3 + i,) for i in range(10)}
    trained = {ex.source for step in range(20) for ex in d.train_batch(step, 32)}
    assert trained and trained <= one_digit and not (trained & d.val_sources)
    assert 7 <= len(trained) <= 10
    frac = sum(d.held_out((i, j, k)) for i in range(3, 13) for j in range(3, 13) for k in range(3, 13)) / 1000
    assert 0.07 < frac < 0.13


def test_encode_examples_keeps_the_start_or_the_end_of_long_sources_and_allows_prompt_only_data():
    from seqrl.data.readers import TextExample
    from seqrl.tasks.text import encode_examples

    class Words:  # token i for the i-th word of a text
        def encode_batch(self, texts):
            return [[int(w) for w in t.split()] for t in texts]

    texts = [TextExample("1 2 3 4 5", ("6 7",), "f:1"), TextExample("8 9", (), "f:2")]
    start = encode_examples(texts, Words(), 3)
    end = encode_examples(texts, Words(), 3, keep="end")
    assert start[0].source == (1, 2, 3) and end[0].source == (3, 4, 5) and end[1].source == (8, 9)
    assert start[0].target == (6, 7) and start[1].target is None and start[1].reference_texts is None
