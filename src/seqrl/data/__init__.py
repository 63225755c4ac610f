"""Text data: (source, references) examples read lazily from files, with file:line errors."""
from seqrl.data.formats import read_examples
from seqrl.data.readers import DataError, Limits, ReadStats, TextExample, read_jsonl, read_parallel, read_tsv

__all__ = ["DataError", "Limits", "ReadStats", "TextExample", "read_examples", "read_jsonl", "read_parallel", "read_tsv"]
