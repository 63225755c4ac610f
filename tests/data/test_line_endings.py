"""Line endings: LF, CRLF and CR-only files read the same lines (plain and gzip, parallel and TSV
formats); a lone carriage return inside a line is a DataError naming file:line."""
from __future__ import annotations

import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqrl.data import DataError, read_parallel, read_tsv
from seqrl.data.readers import read_lines

LINE = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\t"),
               min_size=1, max_size=12).filter(lambda t: t.strip() and t == t.strip())


def _write(path, lines, ending, gz=False, last=True):
    data = (ending.join(lines) + (ending if last else "")).encode()
    if gz:
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(LINE, min_size=1, max_size=6), ending=st.sampled_from(["\n", "\r\n", "\r"]),
       gz=st.booleans(), last=st.booleans())
def test_every_line_ending_reads_the_same_lines(tmp_path_factory, lines, ending, gz, last):
    path = tmp_path_factory.mktemp("d") / ("f.txt.gz" if gz else "f.txt")
    _write(path, lines, ending, gz, last)
    assert [t for _, t in read_lines(path)] == lines
    assert [n for n, _ in read_lines(path)] == list(range(1, len(lines) + 1))


@settings(max_examples=30, deadline=None)
@given(lines=st.lists(LINE, min_size=2, max_size=5), ending=st.sampled_from(["\n", "\r\n", "\r"]))
def test_parallel_and_tsv_files_read_every_ending(tmp_path_factory, lines, ending):
    d = tmp_path_factory.mktemp("p")
    _write(d / "x.src", lines, ending)
    _write(d / "x.tgt", [t[::-1] for t in lines], ending)
    got = [(e.source, e.references[0]) for e in read_parallel(d / "x.src", d / "x.tgt")]
    assert got == [(t, t[::-1]) for t in lines]
    _write(d / "x.tsv", [f"{t}\t{t[::-1]}" for t in lines], ending)
    assert [(e.source, e.references[0]) for e in read_tsv(d / "x.tsv")] == got


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_a_lone_carriage_return_inside_a_line_is_named(tmp_path, ending):
    path = tmp_path / "x.src"
    path.write_bytes(f"ein satz{ending}zwei\rsatz{ending}drei{ending}".encode())
    with pytest.raises(DataError, match=r"x.src:2: a carriage return \(\\r\) inside the line, at character 5"):
        list(read_lines(path))
