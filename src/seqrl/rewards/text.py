"""Reward functions for text tasks (translation, summarisation, QA, ...).

Every reward follows the TRL-style contract

    fn(completions, references, sources, **columns) -> list[float | None]

where `completions` are detokenized strings and each `references` entry is either one
reference string, a non-empty list of reference strings, or None ("not applicable":
the reward is None for that sample). `sources` and extra columns are ignored.

Built-ins (names as in `TEXT_REWARDS`; `make_text_reward(name, **options)` configures them):

* bleu / chrf / chrf++: sacrebleu sentence scores divided by 100 and clipped to [0, 1]
  (sentence BLEU is computed with effective_order=True). Several references are scored
  natively by sacrebleu (BLEU clips n-gram counts over all references; chrF keeps the
  best-matching reference).
* ter: max(0, 1 - TER/100), in [0, 1], 1 for a perfect match. TER can exceed 100 (a long
  hypothesis against a short reference); those all get 0. Multi-reference TER is sacrebleu's.
* rouge-1 / rouge-2 / rouge-l / rouge-lsum: rouge-score F-measure, the MAX over references.
  rouge-score's default tokenizer keeps only [a-z0-9] (lowercased), so CJK text scores 0;
  pass tokenizer="whitespace" to split on whitespace instead (then no stemming applies).
* exact-match: 1.0 if the completion equals any reference, after optional whitespace
  collapsing (default on) and case folding (default off).
* token-f1: SQuAD-style bag-of-tokens F1 (lowercase, drop punctuation and English
  articles, split on whitespace), max over references; both empty -> 1.0, one empty -> 0.0.
* edit-similarity: 1 - Levenshtein(h, r) / max(len(h), len(r)) over characters
  (unit="char") or whitespace tokens (unit="word"), max over references; both empty -> 1.0.
* length-penalty: kind="relative" (default): -|len(h) - len(r)| / max(len(r), 1) against
  the reference closest in length, <= 0 and 0 at equal length; kind="brevity": BLEU's
  brevity penalty min(1, exp(1 - r/h)) with BLEU's closest reference length, in [0, 1].
  Lengths count whitespace tokens (unit="word", default) or characters (unit="char").

sacrebleu and rouge-score are optional (`pip install -e '.[text]'`) and imported lazily.
"""
from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections import Counter
from typing import Any, Callable, Optional, Sequence, Union

from seqrl.extras import require

Reference = Union[str, Sequence[str]]
ScoreOne = Callable[[str, list[str]], float]


# ---------------------------------------------------------------- input handling


def normalize_references(completions: Sequence[str], references: Optional[Sequence[Optional[Reference]]]) -> list[Optional[list[str]]]:
    """One list of reference strings (or None) per completion; checks types and lengths."""
    if references is None:
        return [None] * len(completions)
    if len(references) != len(completions):
        raise ValueError(f"references has {len(references)} entries but completions has {len(completions)}")
    out: list[Optional[list[str]]] = []
    for i, ref in enumerate(references):
        if ref is None:
            out.append(None)
            continue
        refs = [ref] if isinstance(ref, str) else list(ref)
        if not refs:
            raise ValueError(f"sample {i}: empty list of references (use None for 'not applicable')")
        bad = [r for r in refs if not isinstance(r, str)]
        if bad:
            raise TypeError(f"sample {i}: references must be strings, got {type(bad[0]).__name__} (text rewards need detokenized text)")
        out.append(refs)
    return out


def _check_text(completion: Any, i: int) -> str:
    if not isinstance(completion, str):
        raise TypeError(f"sample {i}: completion must be a string, got {type(completion).__name__} (text rewards need detokenized text)")
    return completion


def _clip01(x: float) -> float:
    return min(1.0, max(0.0, x))


class TextReward:
    """A configured text reward: `reward(completions, references, sources=None, **columns)`."""

    def __init__(self, name: str, options: dict[str, Any], *, lazy: bool = False) -> None:
        self.name = name
        self.options = dict(options)
        self.__name__ = name.replace("-", "_").replace("+", "p")
        self._score: Optional[ScoreOne] = None if lazy else _BUILDERS[name](**self.options)

    def score_one(self, completion: str, references: list[str]) -> float:
        if self._score is None:
            self._score = _BUILDERS[self.name](**self.options)
        return self._score(completion, references)

    def __call__(self, completions: Sequence[str], references: Optional[Sequence[Optional[Reference]]], sources: Any = None, **columns: Any) -> list[Optional[float]]:
        refs = normalize_references(completions, references)
        return [None if r is None else self.score_one(_check_text(c, i), r) for i, (c, r) in enumerate(zip(completions, refs))]

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"make_text_reward({self.name!r}{opts})"

    def __getstate__(self) -> dict[str, Any]:
        """Pickles as (name, options); the scorer is rebuilt on first use (reward worker processes)."""
        return {**self.__dict__, "_score": None}


# ---------------------------------------------------------------- sacrebleu / rouge


def _import(module: str) -> Any:
    return require(module, "text", "this reward")


SMOOTH_METHODS = ("exp", "floor", "add-k", "none")


def _build_bleu(smooth_method: str = "exp", smooth_value: Optional[float] = None, lowercase: bool = False,
                tokenize: Optional[str] = None, max_ngram_order: int = 4, effective_order: bool = True) -> ScoreOne:
    if smooth_method not in SMOOTH_METHODS:
        raise ValueError(f"smooth_method must be one of {SMOOTH_METHODS}, got {smooth_method!r}")
    bleu = _import("sacrebleu.metrics").BLEU(smooth_method=smooth_method, smooth_value=smooth_value, lowercase=lowercase,
                                             tokenize=tokenize, max_ngram_order=max_ngram_order, effective_order=effective_order)
    return lambda h, refs: _clip01(bleu.sentence_score(h, refs).score / 100.0)


def _build_chrf(char_order: int = 6, word_order: int = 0, beta: int = 2, lowercase: bool = False, whitespace: bool = False) -> ScoreOne:
    chrf = _import("sacrebleu.metrics").CHRF(char_order=char_order, word_order=word_order, beta=beta, lowercase=lowercase, whitespace=whitespace)
    return lambda h, refs: _clip01(chrf.sentence_score(h, refs).score / 100.0)


def _build_chrfpp(**options: Any) -> ScoreOne:
    options.setdefault("word_order", 2)
    return _build_chrf(**options)


def _build_ter(normalized: bool = False, no_punct: bool = False, asian_support: bool = False, case_sensitive: bool = False) -> ScoreOne:
    ter = _import("sacrebleu.metrics").TER(normalized=normalized, no_punct=no_punct, asian_support=asian_support, case_sensitive=case_sensitive)
    return lambda h, refs: max(0.0, 1.0 - ter.sentence_score(h, refs).score / 100.0)


class WhitespaceTokenizer:
    """rouge-score tokenizer that splits on whitespace and keeps every character."""

    def tokenize(self, text: str) -> list[str]:
        return text.split()


ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


def _build_rouge(rouge_type: str = "rougeL", use_stemmer: bool = False, tokenizer: Optional[str] = None) -> ScoreOne:
    if rouge_type not in ROUGE_TYPES:
        raise ValueError(f"rouge_type must be one of {ROUGE_TYPES}, got {rouge_type!r}")
    if tokenizer not in (None, "default", "whitespace"):
        raise ValueError(f"tokenizer must be None, 'default' or 'whitespace', got {tokenizer!r}")
    tok = WhitespaceTokenizer() if tokenizer == "whitespace" else None
    scorer = _import("rouge_score.rouge_scorer").RougeScorer([rouge_type], use_stemmer=use_stemmer, tokenizer=tok)
    return lambda h, refs: max(float(scorer.score(r, h)[rouge_type].fmeasure) for r in refs)


def _rouge_builder(rouge_type: str) -> Callable[..., ScoreOne]:
    return lambda **options: _build_rouge(rouge_type=rouge_type, **options)


# ---------------------------------------------------------------- pure-Python metrics


def _units(text: str, unit: str) -> Sequence[str]:
    if unit == "char":
        return text
    if unit == "word":
        return text.split()
    raise ValueError(f"unit must be 'char' or 'word', got {unit!r}")


def levenshtein(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Levenshtein distance (unit-cost insert/delete/substitute) between two sequences."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        prev = cur
    return prev[-1]


def edit_similarity_one(hyp: str, ref: str, unit: str = "char") -> float:
    a, b = _units(hyp, unit), _units(ref, unit)
    denom = max(len(a), len(b))
    return 1.0 if denom == 0 else 1.0 - levenshtein(a, b) / denom


def _build_edit_similarity(unit: str = "char") -> ScoreOne:
    _units("", unit)
    return lambda h, refs: max(edit_similarity_one(h, r, unit) for r in refs)


_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def squad_normalize(text: str) -> str:
    """SQuAD answer normalisation: lowercase, drop (Unicode) punctuation and a/an/the, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if not unicodedata.category(ch).startswith("P"))
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1_one(hyp: str, ref: str, normalize: bool = True) -> float:
    h = (squad_normalize(hyp) if normalize else hyp).split()
    r = (squad_normalize(ref) if normalize else ref).split()
    if not h or not r:
        return float(h == r)
    common = sum((Counter(h) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(h), common / len(r)
    return 2 * precision * recall / (precision + recall)


def _build_token_f1(normalize: bool = True) -> ScoreOne:
    return lambda h, refs: max(token_f1_one(h, r, normalize) for r in refs)


def _build_exact_match(ignore_case: bool = False, collapse_whitespace: bool = True) -> ScoreOne:
    def norm(s: str) -> str:
        s = " ".join(s.split()) if collapse_whitespace else s
        return s.casefold() if ignore_case else s
    return lambda h, refs: float(any(norm(h) == norm(r) for r in refs))


LENGTH_KINDS = ("relative", "brevity")


def length_penalty_one(hyp_len: int, ref_lens: Sequence[int], kind: str = "relative") -> float:
    if kind == "relative":
        r = min(ref_lens, key=lambda n: (abs(n - hyp_len), n))
        return -abs(hyp_len - r) / max(r, 1)
    r = min(ref_lens, key=lambda n: (abs(n - hyp_len), n))  # BLEU: closest, ties -> shorter
    if hyp_len >= r:
        return 1.0
    return 0.0 if hyp_len == 0 else math.exp(1.0 - r / hyp_len)


def _build_length_penalty(kind: str = "relative", unit: str = "word") -> ScoreOne:
    if kind not in LENGTH_KINDS:
        raise ValueError(f"kind must be one of {LENGTH_KINDS}, got {kind!r}")
    _units("", unit)
    return lambda h, refs: length_penalty_one(len(_units(h, unit)), [len(_units(r, unit)) for r in refs], kind)


# ---------------------------------------------------------------- registry

_BUILDERS: dict[str, Callable[..., ScoreOne]] = {
    "bleu": _build_bleu,
    "chrf": _build_chrf,
    "chrf++": _build_chrfpp,
    "ter": _build_ter,
    "rouge-1": _rouge_builder("rouge1"),
    "rouge-2": _rouge_builder("rouge2"),
    "rouge-l": _rouge_builder("rougeL"),
    "rouge-lsum": _rouge_builder("rougeLsum"),
    "exact-match": _build_exact_match,
    "token-f1": _build_token_f1,
    "edit-similarity": _build_edit_similarity,
    "length-penalty": _build_length_penalty,
}

TEXT_REWARDS: dict[str, str] = {
    "bleu": "sentence BLEU (sacrebleu, effective order, smoothing 'exp'|'floor'|'add-k'|'none'), 0-1",
    "chrf": "chrF character n-gram F-score (sacrebleu), 0-1",
    "chrf++": "chrF++: chrF plus word bigrams (word_order=2), 0-1",
    "ter": "max(0, 1 - TER/100), translation edit rate as a reward, 0-1",
    "rouge-1": "ROUGE-1 F-measure (rouge-score), max over references, 0-1",
    "rouge-2": "ROUGE-2 F-measure (rouge-score), max over references, 0-1",
    "rouge-l": "ROUGE-L F-measure (rouge-score), max over references, 0-1",
    "rouge-lsum": "ROUGE-Lsum F-measure (rouge-score, newline-separated sentences), max over references, 0-1",
    "exact-match": "1.0 if the completion equals a reference (whitespace collapsed; ignore_case option)",
    "token-f1": "SQuAD-style bag-of-tokens F1, max over references, 0-1",
    "edit-similarity": "1 - normalised Levenshtein distance (unit='char'|'word'), max over references, 0-1",
    "length-penalty": "-|len(h)-len(r)|/len(r) for the closest reference (kind='brevity': BLEU brevity penalty)",
}

ALIASES: dict[str, str] = {
    "sacrebleu": "bleu", "sentence-bleu": "bleu", "chrfpp": "chrf++", "chrf-plus-plus": "chrf++",
    "rouge1": "rouge-1", "rouge2": "rouge-2", "rougel": "rouge-l", "rougelsum": "rouge-lsum", "rouge": "rouge-l",
    "em": "exact-match", "exact": "exact-match", "f1": "token-f1",
    "edit-sim": "edit-similarity", "levenshtein": "edit-similarity", "length": "length-penalty",
}


def canonical_name(name: str) -> str:
    """The registry name for `name` (case-insensitive, '_' == '-', aliases allowed); ValueError with a hint otherwise."""
    key = name.strip().lower().replace("_", "-")
    key = ALIASES.get(key, key)
    if key in _BUILDERS:
        return key
    known = sorted(set(_BUILDERS) | set(ALIASES))
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in dict.fromkeys(ALIASES.get(c, c) for c in close))}?" if close else ""
    raise ValueError(f"unknown text reward {name!r}.{hint} Known: {', '.join(TEXT_REWARDS)}")


def make_text_reward(name: str, **options: Any) -> TextReward:
    """Build the reward `name` (see TEXT_REWARDS) with `options`; bad options raise now, not at the first call."""
    return TextReward(canonical_name(name), options)


# Default-configured rewards (scorers are built on first use, so importing needs no extras).
sentence_bleu = TextReward("bleu", {}, lazy=True)
chrf = TextReward("chrf", {}, lazy=True)
chrf_plus_plus = TextReward("chrf++", {}, lazy=True)
ter = TextReward("ter", {}, lazy=True)
rouge = TextReward("rouge-l", {}, lazy=True)
exact_match_text = TextReward("exact-match", {}, lazy=True)
token_f1 = TextReward("token-f1", {}, lazy=True)
edit_similarity = TextReward("edit-similarity", {}, lazy=True)
length_penalty = TextReward("length-penalty", {}, lazy=True)
