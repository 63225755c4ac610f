"""Token vocabulary shared by tasks, policies and rewards.

Ids 0, 1, 2 are PAD, BOS and EOS for seqrl's own vocabularies and tokenizers; a task's own
symbols follow. Pretrained models bring their own ids: a network or task exposes them as
`specials` (`Specials`), and decoding, collation and stripping read them from there.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<bos>", "<eos>")


@dataclass(frozen=True)
class Specials:
    """Special token ids: padding, the first decoder input, end of sequence."""

    pad: int = PAD
    bos: int = BOS
    eos: int = EOS


DEFAULT_SPECIALS = Specials()


def specials_of(obj: object) -> Specials:
    """The `specials` of a network, task or tokenizer; seqrl's 0/1/2 when it has none."""
    return getattr(obj, "specials", DEFAULT_SPECIALS)


@dataclass(frozen=True)
class Vocab:
    """Maps a task's symbols to ids after the three special tokens."""

    symbols: tuple[str, ...]

    def __post_init__(self) -> None:
        names = SPECIALS + self.symbols
        if len(set(names)) != len(names):
            raise ValueError(f"vocabulary symbols must be unique and not special: {self.symbols}")

    @property
    def size(self) -> int:
        return len(SPECIALS) + len(self.symbols)

    def id(self, symbol: str) -> int:
        try:
            return len(SPECIALS) + self.symbols.index(symbol)
        except ValueError:
            raise KeyError(f"symbol {symbol!r} is not in the vocabulary {self.symbols}") from None

    def encode(self, symbols: Sequence[str]) -> list[int]:
        return [self.id(s) for s in symbols]

    def decode(self, ids: Sequence[int]) -> list[str]:
        """Symbols of `ids`, stopping at EOS and skipping PAD/BOS."""
        out: list[str] = []
        for i in ids:
            if i == EOS:
                break
            if i in (PAD, BOS):
                continue
            out.append(self.symbols[i - len(SPECIALS)])
        return out

    def render(self, ids: Sequence[int]) -> str:
        return " ".join(self.decode(ids))
