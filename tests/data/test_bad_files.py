"""Every bad data file gets a DataError naming the file (and the line), never another exception."""
import gzip
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqrl.data import DataError, Limits, read_jsonl, read_parallel, read_tsv

FORMATS = {
    "tsv": lambda p: list(read_tsv(p, "source", ("references",), header=True)),
    "jsonl": lambda p: list(read_jsonl(p)),
    "parallel": lambda p: list(read_parallel(p, p)),
}
GOOD = {"tsv": "source\treferences\nein Hund\ta dog\n", "jsonl": '{"source": "ein Hund", "references": "a dog"}\n',
        "parallel": "ein Hund\n"}


def _bad_utf8_on_line(fmt: str, line: int) -> bytes:
    filler = {"tsv": b"x\ty\n", "jsonl": b'{"source": "x", "references": "y"}\n', "parallel": b"x\n"}[fmt]
    lines = GOOD[fmt].encode().splitlines(keepends=True)[:1]  # the TSV header, or a first example
    while len(lines) < line - 1:
        lines.append(filler)
    lines.append(filler.replace(b"x", b"\xff\xfe", 1))
    return b"".join(lines)


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("line", [2, 900])  # 900 lines are past 8 KiB, where a byte offset went wrong
def test_bad_utf8_names_file_and_line(tmp_path, fmt, line):
    path = tmp_path / f"d.{fmt}"
    path.write_bytes(_bad_utf8_on_line(fmt, line))
    with pytest.raises(DataError, match=rf"d.{fmt}:{line}: not valid UTF-8 \(byte 0xff"):
        FORMATS[fmt](path)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_byte_order_mark_is_dropped_in_every_format(tmp_path, fmt):
    path = tmp_path / f"d.{fmt}"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD[fmt].encode())
    (example,) = FORMATS[fmt](path)
    assert example.source == "ein Hund"


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_gzip_is_named(tmp_path, damage):
    data = gzip.compress(("ein Hund\n" * 5000).encode())
    path = tmp_path / "d.src.gz"
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else data[:20] + b"\x00" * 50 + data[70:])
    with pytest.raises(DataError, match=r"d.src.gz: corrupt or truncated gzip data after line \d+"):
        list(read_parallel(path))


def test_other_bad_files(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        list(read_jsonl(tmp_path))
    empty = tmp_path / "e.tsv"
    empty.write_text("")
    with pytest.raises(DataError, match=r"e.tsv: the file is empty \(expected a header line\)"):
        list(read_tsv(empty, "source", ("references",), header=True))
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(DataError, match=r"deep.jsonl:1: JSON nested too deeply"):
        list(read_jsonl(deep))
    wide = tmp_path / "wide.tsv"  # a field far over the csv module's 128 KiB limit
    wide.write_text("source\treferences\n" + "x" * 300_000 + "\tshort\n")
    (example,) = read_tsv(wide, "source", ("references",), header=True)
    assert len(example.source) == 300_000


def test_a_pathological_word_does_not_stall_tokenizer_training():
    from seqrl.data.tokenizer import train_tokenizer

    texts = ["a dog runs", "the cat sits"] * 200 + ["x" * 1_000_000]
    began = time.monotonic()
    tok = train_tokenizer(texts, "bpe", 100)
    assert time.monotonic() - began < 20  # minutes before words were cut
    assert tok.decode(tok.encode("a dog")) == "a dog"


# -- property: random bytes in any format give DataError (or examples), nothing else ---------------
@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(list(FORMATS)), gz=st.sampled_from(["no", "gzip", "cut gzip"]),
       data=st.one_of(st.binary(max_size=400),
                      st.lists(st.sampled_from([b"\t", b"\n", b"\r", b"{", b"}", b'"source"', b'"references"', b":",
                                                b",", b"[", b"]", b'"x"', b"\xef\xbb\xbf", b"\xff", b"\xc3", b"a",
                                                b" ", b"source", b"references", b"null", b"1"]),
                               max_size=80).map(b"".join)))
def test_random_files_give_only_data_errors(tmp_path, fmt, gz, data):
    path = tmp_path / (f"r.{fmt}.gz" if gz != "no" else f"r.{fmt}")
    if gz != "no":
        data = gzip.compress(data)
        data = data[: len(data) // 2] if gz == "cut gzip" else data
    path.write_bytes(data)
    began = time.monotonic()
    for on_error in ("raise", "skip"):
        try:
            reader = FORMATS[fmt]
            if on_error == "skip":
                examples = {"tsv": lambda p: list(read_tsv(p, 0, (1,), limits=Limits(on_error="skip"))),
                            "jsonl": lambda p: list(read_jsonl(p, limits=Limits(on_error="skip"))),
                            "parallel": reader}[fmt](path)
            else:
                examples = reader(path)
        except DataError as err:
            assert str(path.name) in str(err)
        else:
            assert all(isinstance(e.source, str) for e in examples)
    assert time.monotonic() - began < 2
