"""Reading a Hugging Face dataset saved with save_to_disk: splits, nested fields, bad rows."""
import pytest

from seqrl.data import DataError, Limits, ReadStats, read_examples

datasets = pytest.importorskip("datasets", reason="the `datasets` extra is not installed")


@pytest.fixture
def saved(tmp_path):
    train = datasets.Dataset.from_dict({
        "translation": [{"de": "ein Hund", "en": "a dog"}, {"de": "eine Katze", "en": "a cat"},
                        {"de": "", "en": "empty source"}],
        "id": [7, 8, 9],
    })
    test = datasets.Dataset.from_dict({"translation": [{"de": "ein Baum", "en": "a tree"}], "id": [1]})
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(tmp_path / "ds"))
    return tmp_path / "ds"


def test_splits_nested_fields_and_extra_columns(saved):
    stats = ReadStats()
    rows = list(read_examples("hf_disk", path=saved, split="train", source_field="translation.de",
                              references_field="translation.en", stats=stats))
    assert [(r.source, r.references) for r in rows] == [("ein Hund", ("a dog",)), ("eine Katze", ("a cat",))]
    assert rows[0].columns == {"id": 7} and rows[1].where.endswith("[train] row 1")
    assert stats.dropped_empty == 1 and stats.read == 2
    test = list(read_examples("hf_disk", path=saved, split="test", source_field="translation.de",
                              references_field="translation.en"))
    assert test[0].references == ("a tree",)


def test_multiple_references_from_a_list_column(tmp_path):
    datasets.Dataset.from_dict({"document": ["x y", "z"], "summaries": [["a", "b"], ["c"]]}).save_to_disk(str(tmp_path / "one"))
    rows = list(read_examples("hf_disk", path=tmp_path / "one", split=None, source_field="document",
                              references_field="summaries"))
    assert [r.references for r in rows] == [("a", "b"), ("c",)]


def test_errors_name_the_dataset_split_and_row(saved, tmp_path):
    with pytest.raises(DataError, match=r"no split 'validation'; the dataset has \['train', 'test'\]"):
        list(read_examples("hf_disk", path=saved, split="validation"))
    with pytest.raises(DataError, match=r"no column 'source'"):
        list(read_examples("hf_disk", path=saved, split="train"))
    with pytest.raises(DataError, match=r"not a dataset saved with"):
        list(read_examples("hf_disk", path=tmp_path, split="train"))
    datasets.Dataset.from_dict({"src": ["a", "b"], "ref": [["x"], []]}).save_to_disk(str(tmp_path / "bad"))
    with pytest.raises(DataError, match=r"\[None\] row 1|bad row 1: field 'ref' must be a string or a non-empty list"):
        list(read_examples("hf_disk", path=tmp_path / "bad", split=None, source_field="src", references_field="ref"))
    stats = ReadStats()
    rows = list(read_examples("hf_disk", path=tmp_path / "bad", split=None, source_field="src",
                              references_field="ref", limits=Limits(on_error="skip"), stats=stats))
    assert len(rows) == 1 and stats.skipped_malformed == 1
    missing = list(read_examples("hf_disk", path=saved, split="train", source_field="translation.fr",
                                 references_field="translation.en", limits=Limits(on_error="skip"), stats=stats))
    assert missing == [] and stats.skipped_malformed == 4
