"""Readers for (source, references) text data: aligned plain-text files, TSV and JSON lines
(a saved Hugging Face dataset: data/hf_disk.py).

Every reader is a generator, so a corpus larger than memory streams through. A malformed line
stops with `file:line` and what was wrong, or, with `on_error="skip"`, is skipped and counted in
`ReadStats`. Empty and over-long examples are handled as asked (`empty`, `max_chars`,
`too_long`), never silently: every drop or truncation is counted too.
Files ending in `.gz` are decompressed on the fly. Text is UTF-8, decoded line by line (a
byte-order mark at the start of a file is dropped, in every format), so a bad byte is reported
as `file:line` too; TSV fields are split on the delimiter with no quoting and no size limit.
"""
from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Optional, Sequence

ON_ERROR = ("raise", "skip")
EMPTY = ("drop", "keep", "raise")
TOO_LONG = ("truncate", "drop", "raise")


class DataError(ValueError):
    """A data file problem; the message starts with `file:line`."""


@dataclass(frozen=True)
class TextExample:
    source: str
    references: tuple[str, ...]  # empty for data without references
    where: str  # "file:line" of the example, for messages
    columns: dict[str, Any] = field(default_factory=dict)  # extra fields, passed to rewards


@dataclass
class ReadStats:
    """What a reader skipped, dropped or truncated, by reason."""

    read: int = 0
    skipped_malformed: int = 0
    dropped_empty: int = 0
    dropped_too_long: int = 0
    truncated: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Limits:
    """How empty and over-long examples are handled."""

    empty: str = "drop"
    max_chars: Optional[int] = None
    too_long: str = "truncate"
    on_error: str = "raise"

    def __post_init__(self) -> None:
        for name, value, allowed in (("empty", self.empty, EMPTY), ("too_long", self.too_long, TOO_LONG),
                                     ("on_error", self.on_error, ON_ERROR)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if self.max_chars is not None and self.max_chars < 1:
            raise ValueError(f"max_chars must be >= 1, got {self.max_chars}")


def open_binary(path: str | Path) -> BinaryIO:
    """Open a data file for reading bytes, transparently gunzipping `.gz`; DataError naming the
    path when it is missing, a directory or unreadable."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a data file")
    try:
        return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    except OSError as err:
        raise DataError(f"{path}: cannot open ({err.strerror or err})") from None


def read_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file, line endings removed: LF, CRLF, or CR-only throughout
    (classic Mac); a carriage return inside an LF or CRLF line is a DataError naming file:line.
    Each line is decoded on its own, so bad bytes are reported as `file:line`; a byte-order mark
    at the start is dropped; a corrupt or truncated gzip stream is a DataError naming the file and
    the last good line."""
    number = 0
    with open_binary(path) as f:
        try:
            for number, raw in enumerate(f, start=1):
                if number == 1 and not raw.endswith(b"\n") and b"\r" in raw:  # CR-only line endings (classic Mac)
                    for number, piece in enumerate(raw.split(b"\r"), start=1):
                        if piece or number < raw.count(b"\r") + 1:  # not the empty tail after the last CR
                            yield number, _decode(path, number, piece)
                    return
                text = _decode(path, number, raw)
                body = text[:-1] if text.endswith("\n") else text
                body = body[:-1] if body.endswith("\r") else body  # CRLF
                if "\r" in body:
                    raise DataError(f"{path}:{number}: a carriage return (\\r) inside the line, at character "
                                    f"{body.index(chr(13)) + 1}; remove it (e.g. tr -d '\\r') or fix the line endings")
                yield number, body
        except (EOFError, zlib.error, gzip.BadGzipFile) as err:
            raise DataError(f"{path}: corrupt or truncated gzip data after line {number} ({err})") from None


def _decode(path: str | Path, number: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}:{number}: not valid UTF-8 (byte 0x{raw[err.start]:02x} at byte "
                        f"{err.start + 1} of the line)") from None


def finish_example(ex: TextExample, limits: Limits, stats: ReadStats) -> Optional[TextExample]:
    """Apply the empty / too-long rules; None when the example is dropped."""
    texts = (ex.source,) + ex.references
    if any(not t.strip() for t in texts):
        if limits.empty == "raise":
            raise DataError(f"{ex.where}: empty source or reference")
        if limits.empty == "drop":
            stats.dropped_empty += 1
            return None
    if limits.max_chars is not None and any(len(t) > limits.max_chars for t in texts):
        if limits.too_long == "raise":
            raise DataError(f"{ex.where}: longer than max_chars={limits.max_chars}")
        if limits.too_long == "drop":
            stats.dropped_too_long += 1
            return None
        stats.truncated += 1
        cut = limits.max_chars
        ex = TextExample(ex.source[:cut], tuple(r[:cut] for r in ex.references), ex.where, ex.columns)
    stats.read += 1
    return ex


def bad_record(where: str, problem: str, limits: Limits, stats: ReadStats) -> None:
    if limits.on_error == "raise":
        raise DataError(f"{where}: {problem}")
    stats.skipped_malformed += 1


def read_parallel(source_path: str | Path, target_path: Optional[str | Path] = None, limits: Limits = Limits(),
                  stats: Optional[ReadStats] = None) -> Iterator[TextExample]:
    """Aligned files, one sentence a line: line i of the target is the reference of line i."""
    stats = stats if stats is not None else ReadStats()
    src_lines = read_lines(source_path)
    tgt_lines = read_lines(target_path) if target_path is not None else None
    for number, src in src_lines:
        refs: tuple[str, ...] = ()
        if tgt_lines is not None:
            nxt = next(tgt_lines, None)
            if nxt is None:
                raise DataError(f"{target_path}:{number}: unaligned files: {target_path} ends at line "
                                f"{number - 1} but {source_path} goes on")
            refs = (nxt[1],)
        ex = finish_example(TextExample(src, refs, f"{source_path}:{number}"), limits, stats)
        if ex is not None:
            yield ex
    if tgt_lines is not None:
        extra = next(tgt_lines, None)
        if extra is not None:
            raise DataError(f"{target_path}:{extra[0]}: unaligned files: {source_path} ends before this line")


def read_tsv(path: str | Path, source_column: int | str = 0, reference_columns: Sequence[int | str] = (1,),
             header: bool = False, delimiter: str = "\t", limits: Limits = Limits(),
             stats: Optional[ReadStats] = None) -> Iterator[TextExample]:
    """Delimited columns; columns are indices, or names when `header` is True."""
    stats = stats if stats is not None else ReadStats()
    lines = read_lines(path)
    names: Optional[list[str]] = None
    if header:
        first = next(lines, None)
        if first is None:
            raise DataError(f"{path}: the file is empty (expected a header line)")
        names = first[1].split(delimiter)
    index = _column_index(path, names, [source_column, *reference_columns])
    width = len(names) if names is not None else None
    for number, line in lines:
        row = line.split(delimiter) if line else []  # no quoting: a field is everything between delimiters
        where = f"{path}:{number}"
        if width is None:
            width = len(row)
        if len(row) != width or max(index) >= len(row):
            bad_record(where, f"expected {width} columns, found {len(row)}", limits, stats)
            continue
        ex = finish_example(TextExample(row[index[0]], tuple(row[i] for i in index[1:]), where), limits, stats)
        if ex is not None:
            yield ex


def _column_index(path: str | Path, names: Optional[list[str]], columns: Sequence[int | str]) -> list[int]:
    out = []
    for col in columns:
        if isinstance(col, int):
            out.append(col)
        elif names is None:
            raise DataError(f"{path}: column {col!r} is a name but the file has no header (header=False)")
        elif col not in names:
            raise DataError(f"{path}:1: no column {col!r} in the header {names}")
        else:
            out.append(names.index(col))
    return out


def read_jsonl(path: str | Path, source_field: str = "source", references_field: Optional[str] = "references",
               limits: Limits = Limits(), stats: Optional[ReadStats] = None) -> Iterator[TextExample]:
    """One JSON object a line; the references field holds a string or a list of strings.
    Every other field is kept in `columns` (passed to rewards as keyword arguments)."""
    stats = stats if stats is not None else ReadStats()
    for number, line in read_lines(path):
        where = f"{path}:{number}"
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            bad_record(where, f"invalid JSON ({err.msg} at column {err.colno})", limits, stats)
            continue
        except RecursionError:
            bad_record(where, "JSON nested too deeply", limits, stats)
            continue
        problem = _check_record(obj, source_field, references_field)
        if problem:
            bad_record(where, problem, limits, stats)
            continue
        refs = obj.get(references_field) if references_field else None
        refs = () if refs is None else (refs,) if isinstance(refs, str) else tuple(refs)
        columns = {k: v for k, v in obj.items() if k not in (source_field, references_field)}
        ex = finish_example(TextExample(obj[source_field], refs, where, columns), limits, stats)
        if ex is not None:
            yield ex


def _check_record(obj: Any, source_field: str, references_field: Optional[str]) -> str:
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {type(obj).__name__}"
    if not isinstance(obj.get(source_field), str):
        return f"field {source_field!r} must be a string, got {obj.get(source_field)!r}"
    if references_field and references_field in obj:
        refs = obj[references_field]
        if not (isinstance(refs, str) or (isinstance(refs, list) and refs and all(isinstance(r, str) for r in refs))):
            return f"field {references_field!r} must be a string or a non-empty list of strings, got {refs!r}"
    elif references_field:
        return f"missing field {references_field!r}"
    return ""
