"""Reader for a Hugging Face `datasets` dataset saved with `save_to_disk` (a Dataset, or a
DatasetDict with splits). The Arrow files are memory-mapped and rows are read one at a time, so
a corpus larger than memory streams through like the file readers'.

Field names may be dotted to reach into nested columns, e.g. `translation.de` and
`translation.en` for the WMT-style `{"translation": {"de": ..., "en": ...}}` layout. A row whose
fields are missing or of the wrong type stops with `path[split] row i` and what was wrong, or is
skipped and counted (`on_error="skip"`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Optional

from seqrl.data.readers import DataError, Limits, ReadStats, TextExample, bad_record, finish_example
from seqrl.extras import install_hint


def _get(row: dict[str, Any], key: str) -> Any:
    value: Any = row
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(key)
        value = value[part]
    return value


def load_split(path: str | Path, split: Optional[str]):
    """The `datasets.Dataset` at `path` (choosing `split` of a DatasetDict); DataError otherwise."""
    try:
        from datasets import DatasetDict, load_from_disk
    except ImportError as err:  # the optional extra
        raise DataError(f"{path}: reading a saved Hugging Face dataset needs the datasets extra ({err}): "
                        f"{install_hint('datasets')}") from None
    try:
        ds = load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as err:
        raise DataError(f"{path}: not a dataset saved with datasets' save_to_disk ({err})") from None
    if isinstance(ds, DatasetDict):
        names = list(ds.keys())
        if split is None and len(names) == 1:
            split = names[0]
        if split not in ds:
            raise DataError(f"{path}: no split {split!r}; the dataset has {names}")
        ds = ds[split]
    return ds, split


def read_hf_disk(path: str | Path, split: Optional[str] = None, source_field: str = "source",
                 references_field: Optional[str] = "references", limits: Limits = Limits(),
                 stats: Optional[ReadStats] = None) -> Iterator[TextExample]:
    """(source, references) examples of a saved dataset; other top-level columns go to `columns`."""
    stats = stats if stats is not None else ReadStats()
    ds, split = load_split(path, split)
    label = f"{path}[{split}]" if split else str(path)
    for field in (source_field, references_field):
        top = field.split(".")[0] if field else None
        if top is not None and top not in ds.column_names:
            raise DataError(f"{label}: no column {top!r} (from {field!r}); columns are {ds.column_names}")
    tops = {f.split(".")[0] for f in (source_field, references_field) if f}
    for index, row in enumerate(ds):
        where = f"{label} row {index}"
        try:
            source = _get(row, source_field)
            refs = _get(row, references_field) if references_field else None
        except KeyError as err:
            bad_record(where, f"missing field {err.args[0]!r}", limits, stats)
            continue
        if not isinstance(source, str):
            bad_record(where, f"field {source_field!r} must be a string, got {source!r}", limits, stats)
            continue
        if refs is not None and not (isinstance(refs, str) or (isinstance(refs, list) and refs
                                                               and all(isinstance(r, str) for r in refs))):
            bad_record(where, f"field {references_field!r} must be a string or a non-empty list of strings, "
                              f"got {refs!r}", limits, stats)
            continue
        refs = () if refs is None else (refs,) if isinstance(refs, str) else tuple(refs)
        columns = {k: v for k, v in row.items() if k not in tops}
        ex = finish_example(TextExample(source, refs, where, columns), limits, stats)
        if ex is not None:
            yield ex
