"""Subword tokenizers (Hugging Face `tokenizers`): train on the training text, save, load.

Ids 0, 1, 2 are PAD, BOS and EOS, as everywhere in seqrl, so a trained tokenizer plugs into
every policy. Text is normalised to NFKC, pre-tokenised on whitespace and punctuation with
the Metaspace scheme (the word boundary is part of the token), so `decode` gives back the
detokenized sentence that metrics such as sacreBLEU expect.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from typing import Any

from seqrl.extras import require
from seqrl.vocab import BOS, EOS, PAD, SPECIALS


def _tokenizers() -> Any:
    """The `tokenizers` package (the `text` extra), imported when a tokenizer is first needed."""
    return require("tokenizers", "text", "text data (subword tokenizers)")

KINDS = ("bpe", "unigram")
UNK = "<unk>"
MAX_WORD_CHARS = 1000  # longer words are cut for tokenizer training (its cost grows faster than linearly)
_LONG_WORD = re.compile(r"\S{%d,}" % (MAX_WORD_CHARS + 1))
log = logging.getLogger("seqrl")


def longest_word(text: str) -> int:
    """Length of the longest whitespace-free run in `text` if it exceeds MAX_WORD_CHARS, else 0."""
    if len(text) <= MAX_WORD_CHARS:
        return 0
    return max((len(m.group()) for m in _LONG_WORD.finditer(text)), default=0)


def cut_long_words(text: str) -> str:
    """`text` with every word longer than MAX_WORD_CHARS cut to its first MAX_WORD_CHARS characters."""
    return _LONG_WORD.sub(lambda m: m.group()[:MAX_WORD_CHARS], text) if len(text) > MAX_WORD_CHARS else text


class SubwordTokenizer:
    """A trained or loaded `tokenizers.Tokenizer` with seqrl's special-token ids."""

    def __init__(self, tokenizer: Any) -> None:  # a tokenizers.Tokenizer
        for token, expected in zip(SPECIALS, (PAD, BOS, EOS)):
            if tokenizer.token_to_id(token) != expected:
                raise ValueError(f"tokenizer must map {token} to id {expected}, "
                                 f"got {tokenizer.token_to_id(token)}")
        self.tokenizer = tokenizer

    @property
    def size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, without BOS/EOS."""
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Sequence[int]) -> str:
        """Detokenized text of `ids`, stopping at EOS and skipping PAD/BOS."""
        ids = list(ids)
        if EOS in ids:
            ids = ids[: ids.index(EOS)]
        return self.tokenizer.decode([i for i in ids if i not in (PAD, BOS)], skip_special_tokens=True)

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save(str(path))

    @classmethod
    def load(cls, path: str | Path) -> "SubwordTokenizer":
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no tokenizer at {path}")
        return cls(_tokenizers().Tokenizer.from_file(str(path)))


def _batches(texts: Iterable[str], size: int = 1000) -> Iterator[list[str]]:
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def train_tokenizer(texts: Iterable[str], kind: str = "bpe", vocab_size: int = 8000,
                    min_frequency: int = 2) -> SubwordTokenizer:
    """Train a BPE or unigram tokenizer on an iterable of sentences (streamed, not held in memory).
    Words longer than MAX_WORD_CHARS are cut for training (a 1 MB "word" would stall it for minutes)."""
    if kind not in KINDS:
        raise ValueError(f"tokenizer kind must be one of {KINDS}, got {kind!r}")
    specials = list(SPECIALS) + [UNK]
    tk = _tokenizers()
    Tokenizer, decoders, models = tk.Tokenizer, tk.decoders, tk.models  # noqa: N806
    normalizers, pre_tokenizers, trainers = tk.normalizers, tk.pre_tokenizers, tk.trainers
    if kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token=UNK))
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials,
                                       show_progress=False)
    else:
        tok = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token=UNK,
                                           show_progress=False)
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()])
    tok.decoder = decoders.Metaspace()
    cut = [0]

    def bounded(stream: Iterable[str]) -> Iterator[str]:
        for text in stream:
            short = cut_long_words(text)
            cut[0] += short is not text
            yield short

    tok.train_from_iterator(_batches(bounded(texts)), trainer=trainer)
    if cut[0]:
        log.warning("tokenizer training: %d text(s) had words longer than %d characters, cut to their first %d "
                    "for training only (encoding still reads them whole)", cut[0], MAX_WORD_CHARS, MAX_WORD_CHARS)
    return SubwordTokenizer(tok)
