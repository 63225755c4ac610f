import gzip
import json
from itertools import islice
from pathlib import Path

import pytest

from seqrl.data import DataError, Limits, ReadStats, read_examples, read_jsonl, read_parallel, read_tsv

MULTI30K = Path(__file__).resolve().parents[3] / "shared" / "data" / "multi30k"


def write(path: Path, text: str) -> Path:
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_parallel_files_gzip_and_alignment(tmp_path):
    src = write(tmp_path / "a.de.gz", "Hallo Welt\nZwei Männer\n")
    tgt = write(tmp_path / "a.en", "Hello world\nTwo men\n")
    exs = list(read_parallel(src, tgt))
    assert [(e.source, e.references) for e in exs] == [("Hallo Welt", ("Hello world",)), ("Zwei Männer", ("Two men",))]
    assert exs[1].where.endswith("a.de.gz:2")
    short = write(tmp_path / "short.en", "Hello world\n")
    with pytest.raises(DataError, match=r"short.en:2: unaligned"):
        list(read_parallel(src, short))
    long = write(tmp_path / "long.en", "a\nb\nc\n")
    with pytest.raises(DataError, match=r"long.en:3: unaligned"):
        list(read_parallel(src, long))


def test_empty_and_long_examples_are_handled_as_configured(tmp_path):
    src = write(tmp_path / "s.txt", "ok\n\nabcdefghij\n")
    tgt = write(tmp_path / "t.txt", "fine\nnot empty\nxyz\n")
    stats = ReadStats()
    exs = list(read_parallel(src, tgt, Limits(empty="drop", max_chars=5, too_long="truncate"), stats))
    assert [e.source for e in exs] == ["ok", "abcde"]
    assert stats.dropped_empty == 1 and stats.truncated == 1 and stats.read == 2
    stats = ReadStats()
    assert [e.source for e in read_parallel(src, tgt, Limits(max_chars=5, too_long="drop"), stats)] == ["ok"]
    assert stats.dropped_too_long == 1
    with pytest.raises(DataError, match=r"s.txt:2: empty"):
        list(read_parallel(src, tgt, Limits(empty="raise")))
    with pytest.raises(ValueError, match="too_long"):
        Limits(too_long="cut")


def test_tsv_column_count_errors_and_skip(tmp_path):
    path = write(tmp_path / "d.tsv", "src\tref\tref2\na\tb\tc\nbroken line\nd\te\tf\n")
    with pytest.raises(DataError, match=r"d.tsv:3: expected 3 columns, found 1"):
        list(read_tsv(path, "src", ["ref", "ref2"], header=True))
    stats = ReadStats()
    exs = list(read_tsv(path, "src", ["ref", "ref2"], header=True, limits=Limits(on_error="skip"), stats=stats))
    assert [(e.source, e.references) for e in exs] == [("a", ("b", "c")), ("d", ("e", "f"))]
    assert stats.skipped_malformed == 1
    with pytest.raises(DataError, match="no column 'nope'"):
        list(read_tsv(path, "nope", header=True))


def test_jsonl_multiple_references_extra_columns_and_bad_lines(tmp_path):
    lines = [json.dumps({"source": "x", "references": ["a", "b"], "topic": "t1"}),
             "{not json",
             json.dumps({"source": "y", "references": "c"}),
             json.dumps({"source": 3, "references": "c"}),
             json.dumps({"source": "z"})]
    path = write(tmp_path / "d.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"d.jsonl:2: invalid JSON"):
        list(read_jsonl(path))
    stats = ReadStats()
    exs = list(read_jsonl(path, limits=Limits(on_error="skip"), stats=stats))
    assert [(e.source, e.references, e.columns) for e in exs] == [("x", ("a", "b"), {"topic": "t1"}), ("y", ("c",), {})]
    assert stats.skipped_malformed == 3
    assert [e.source for e in read_jsonl(path, references_field=None, limits=Limits(on_error="skip"))] == ["x", "y", "z"]


def test_readers_are_lazy(tmp_path):
    path = write(tmp_path / "big.txt", "line\n" * 10 + "\xff")  # a bad byte far down the file
    (tmp_path / "bad.txt").write_bytes(b"ok\n\xff\xfe\n")
    assert len(list(islice(read_parallel(path), 3))) == 3
    with pytest.raises(DataError, match="not valid UTF-8"):
        list(read_parallel(tmp_path / "bad.txt"))
    with pytest.raises(ValueError, match="unknown data format"):
        read_examples("csv")


@pytest.mark.skipif(not MULTI30K.exists(), reason=f"Multi30k not found at {MULTI30K} (shared data is absent)")
def test_multi30k_reads_aligned():
    stats = ReadStats()
    exs = list(read_parallel(MULTI30K / "val.de.gz", MULTI30K / "val.en.gz", Limits(empty="raise"), stats))
    assert len(exs) == stats.read == 1014
    assert all(e.source and e.references[0] for e in exs)
