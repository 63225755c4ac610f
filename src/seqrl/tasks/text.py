"""Text tasks: (source, references) sentence pairs from files, a subword tokenizer, text rewards.

`TextTask` speaks the same Task protocol as the algorithmic tasks, so every policy, baseline and
curriculum works on text. Rewards and metrics are computed on detokenized strings against the
original reference sentences (all of them, when an example has several), never on token ids.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from seqrl import seeds
from seqrl.data.formats import read_examples
from seqrl.data.readers import Limits, ReadStats, TextExample
from seqrl.data.tokenizer import SubwordTokenizer
from seqrl.rewards.corpus import corpus_scores
from seqrl.tasks.base import Example, Tokens
from seqrl.vocab import Specials, specials_of


@dataclass(frozen=True)
class TextVocab:
    """The tokenizer seen through the Vocab interface the trainer uses (size, render)."""

    tokenizer: SubwordTokenizer

    @property
    def size(self) -> int:
        return self.tokenizer.size

    def render(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(ids)


@dataclass(frozen=True)
class TextTask:
    """Sentence-to-sentence generation scored by a text reward (BLEU, chrF, ROUGE, ...)."""

    tokenizer: SubwordTokenizer
    reward_fn: Callable[..., list[Optional[float]]]
    max_tokens: int = 64
    corpus_metrics: tuple[str, ...] = ("bleu", "chrf")  # corpus metrics reported by validation / eval
    source_tokenizer: Optional[SubwordTokenizer] = None  # None: sources share `tokenizer`
    name: str = "text"
    description: str = "source sentence -> target sentence from your files, text rewards"
    has_reference: bool = True

    @property
    def vocab(self) -> TextVocab:
        return TextVocab(self.tokenizer)

    def make(self, rng: np.random.Generator, length: int) -> Example:
        raise TypeError("text examples come from data files, not from a generator")

    @property
    def specials(self) -> Specials:
        """PAD/BOS/EOS of the tokenizer (a pretrained model's own ids, or seqrl's 0/1/2)."""
        return specials_of(self.tokenizer)

    @property
    def source_vocab_size(self) -> Optional[int]:
        """Size of a separate source vocabulary (None when shared); the model's encoder embeds it."""
        return self.source_tokenizer.size if self.source_tokenizer is not None else None

    def render_source(self, ids: Sequence[int]) -> str:
        return (self.source_tokenizer or self.tokenizer).decode(ids)

    def max_target_len(self, max_length: int) -> int:
        return self.max_tokens

    def _texts(self, completions: Sequence[Tokens], references: Sequence[Optional[Tokens]],
               sources: Sequence[Tokens], reference_texts: Optional[Sequence[Sequence[str]]]):
        decode = self.tokenizer.decode
        hyps = [decode(c) for c in completions]
        refs = ([list(r) for r in reference_texts] if reference_texts is not None
                else [None if r is None else [decode(r)] for r in references])
        return hyps, refs, [self.render_source(s) for s in sources]

    def reward(self, completions: Sequence[Tokens], references: Sequence[Optional[Tokens]],
               sources: Sequence[Tokens], reference_texts: Optional[Sequence[Sequence[str]]] = None,
               **columns: Any) -> list[Optional[float]]:
        hyps, refs, srcs = self._texts(completions, references, sources, reference_texts)
        return self.reward_fn(hyps, refs, srcs, **columns)

    def token_reward(self, completions, references, sources, **columns):  # noqa: ANN001
        raise TypeError("text rewards are sequence-level; set task.per_token=false")

    def metrics(self, completions: Sequence[Tokens], references: Sequence[Optional[Tokens]],
                sources: Sequence[Tokens], reference_texts: Optional[Sequence[Sequence[str]]] = None,
                **columns: Any) -> dict[str, float]:
        """Corpus scores (self.corpus_metrics: sacreBLEU BLEU and chrF by default, detokenized) and
        the mean sentence reward (which gets the examples' extra fields, as in training)."""
        hyps, refs, srcs = self._texts(completions, references, sources, reference_texts)
        values = [v for v in self.reward_fn(hyps, refs, srcs, **columns) if v is not None]
        mean = {"reward": sum(values) / max(len(values), 1)}
        if not self.has_reference:  # prompt-only data: the reward is the only score
            return mean
        return {**corpus_scores(hyps, refs, self.corpus_metrics), **mean}

    def detokenize(self, completions: Sequence[Tokens]) -> list[str]:
        return [self.tokenizer.decode(c) for c in completions]


def read_text_examples(fmt: str, path: str, options: dict[str, Any], limits: Limits,
                       stats: ReadStats) -> Iterator[TextExample]:
    """TextExamples of one split; `path` is a file, a prefix for parallel files, or a saved
    dataset (options["split"] picks its split)."""
    refs = options["reference_key"]  # None: prompt-only data
    if fmt == "parallel":
        return read_examples("parallel", source_path=path + options["source_ext"],
                             target_path=None if refs is None else path + options["target_ext"], limits=limits,
                             stats=stats)
    if fmt == "tsv":
        return read_examples("tsv", path=path, source_column=options["source_key"],
                             reference_columns=[] if refs is None else [refs], header=True, limits=limits, stats=stats)
    if fmt == "hf_disk":
        return read_examples("hf_disk", path=path, split=options["split"], source_field=options["source_key"],
                             references_field=options["reference_key"], limits=limits, stats=stats)
    return read_examples("jsonl", path=path, source_field=options["source_key"],
                         references_field=options["reference_key"], limits=limits, stats=stats)


def encode_examples(texts: Sequence[TextExample], tokenizer: SubwordTokenizer, max_tokens: int,
                    source_tokenizer: Optional[SubwordTokenizer] = None, keep: str = "start") -> list[Example]:
    """Token ids for sources (source_tokenizer, if separate) and first references, cut to
    max_tokens (EOS is added by collate); an over-long source keeps its first max_tokens tokens, or
    with keep="end" its last (a prompt whose question comes last). Examples without references
    (prompt-only data) get target None."""
    src_tok = source_tokenizer or tokenizer
    encode_sources = getattr(src_tok, "encode_sources", src_tok.encode_batch)  # a model's own convention
    sources = encode_sources([t.source for t in texts])
    targets = tokenizer.encode_batch([t.references[0] if t.references else "" for t in texts])
    cut = (lambda s: s[-max_tokens:]) if keep == "end" else (lambda s: s[:max_tokens])
    return [Example(tuple(cut(s)), tuple(r[: max_tokens - 1]) if t.references else None, tuple(t.references) or None,
                    t.columns or None)
            for s, r, t in zip(sources, targets, texts)]


@dataclass(frozen=True)
class TextData:
    """Training examples in a fixed order, reshuffled per epoch by (seed, epoch); a validation set.

    `train_batch(step, size)` is a pure function of (seed, step), like TaskData's, so resume is
    exact. The examples are held in memory (token ids only).
    """

    train: tuple[Example, ...]
    validation: tuple[Example, ...]
    seed: int

    def train_batch(self, step: int, size: int) -> list[Example]:
        n = len(self.train)
        out: list[Example] = []
        for pos in range(step * size, (step + 1) * size):
            epoch, index = divmod(pos, n)
            out.append(self.train[int(_epoch_order(self.seed, epoch, n)[index])])
        return out


@lru_cache(maxsize=4)
def _epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    return seeds.data_rng(seed, seeds.TEXT_SHUFFLE, epoch).permutation(n)
