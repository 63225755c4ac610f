"""Every data format by name: the dispatch that data.format reads through."""
from __future__ import annotations

from typing import Any, Iterator

from seqrl.data.hf_disk import read_hf_disk
from seqrl.data.readers import TextExample, read_jsonl, read_parallel, read_tsv


def read_examples(kind: str, **options: Any) -> Iterator[TextExample]:
    """Dispatch by format name: 'parallel', 'tsv', 'jsonl' or 'hf_disk' (a saved HF dataset)."""
    readers = {"parallel": read_parallel, "tsv": read_tsv, "jsonl": read_jsonl, "hf_disk": read_hf_disk}
    if kind not in readers:
        raise ValueError(f"unknown data format {kind!r}; choose from {sorted(readers)}")
    return readers[kind](**options)
