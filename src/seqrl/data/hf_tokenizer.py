"""A Hugging Face `transformers` tokenizer through the interface text tasks use (size,
encode_batch, decode, save), carrying the model's own special-token ids.

Sources are encoded with the tokenizer's special tokens (the model's convention: T5 appends
`</s>`, Llama-style models prepend `<s>`); targets without them, since seqrl appends EOS itself.
`decode` stops at EOS and drops special tokens, so rewards and metrics see plain text.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from seqrl.vocab import Specials


class HFTokenizer:
    def __init__(self, tokenizer: Any, specials: Specials) -> None:
        self.tokenizer = tokenizer
        self.specials = specials

    @property
    def size(self) -> int:
        return len(self.tokenizer)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [list(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def encode_sources(self, texts: Sequence[str]) -> list[list[int]]:
        return [list(ids) for ids in self.tokenizer(list(texts), add_special_tokens=True)["input_ids"]]

    def decode(self, ids: Sequence[int]) -> str:
        ids = list(ids)
        if self.specials.eos in ids:
            ids = ids[: ids.index(self.specials.eos)]
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def save(self, path: str | Path) -> None:
        """Writes a directory (save_pretrained)."""
        self.tokenizer.save_pretrained(str(path))

    @classmethod
    def load(cls, path: str | Path, specials: Specials) -> "HFTokenizer":
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(str(path)), specials)
