"""Config -> TextTask and TextData: read the files, train or load the tokenizer, encode."""
from __future__ import annotations

import logging
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Iterator

from seqrl.config.schema import Config
from seqrl.config.validate import ConfigError
from seqrl.data.readers import DataError, Limits, ReadStats
from seqrl.data.tokenizer import MAX_WORD_CHARS, SubwordTokenizer, longest_word, train_tokenizer
from seqrl.rewards.combine import parse_reward_spec
from seqrl.rewards.corpus import parse_metrics
from seqrl.tasks.stream import StreamingTextData
from seqrl.tasks.text import TextData, TextTask, encode_examples, read_text_examples
from seqrl.sequences.build import load_callable
from seqrl.train.checkpoint import resolve_init

log = logging.getLogger("seqrl")
TOKENIZER_FILE = "tokenizer.json"


def text_reward(cfg: Config):
    """task.reward for text: 'task' = sentence BLEU, a spec ('0.7*bleu+0.3*chrf'), or module:function."""
    spec = cfg.task.reward
    if spec == "task":
        spec = "bleu"
    if ":" in spec:
        return load_callable(spec, "task.reward")
    try:
        return parse_reward_spec(spec)
    except ValueError as err:
        raise ConfigError(f"task.reward: {err}") from None


def _read(cfg: Config, path: str, cap: int | None, stats: ReadStats, split: str | None = None):
    d = cfg.data
    limits = Limits(empty=d.empty, max_chars=d.max_chars, too_long=d.too_long, on_error=d.on_error)
    options = {"source_ext": d.source_ext, "target_ext": d.target_ext, "source_key": d.source_key,
               "reference_key": d.reference_key, "split": split}
    try:
        examples = list(islice(read_text_examples(d.format, path, options, limits, stats), cap))
    except DataError as err:
        raise ConfigError(f"data: {err}") from None
    if not examples:
        raise ConfigError(f"data: no usable examples in {path} ({stats.as_dict()})")
    return examples


SOURCE_TOKENIZER_FILE = "source_tokenizer.json"


def _given_tokenizer(cfg: Config, config_path: str | None, key: str, filename: str) -> Path | None:
    """The tokenizer a run must use: the configured path, else the run.init_from run's."""
    if config_path is not None:
        if not Path(config_path).exists():
            raise ConfigError(f"{key}: no tokenizer at {config_path}")
        return Path(config_path)
    if cfg.run.init_from is not None:
        try:
            _, init_run = resolve_init(cfg.run.init_from)
        except FileNotFoundError as err:
            raise ConfigError(f"run.init_from: {err}") from None
        if init_run is not None and (init_run / filename).exists():
            return init_run / filename
    return None


def _tokenizer(cfg: Config, run_dir: Path, role: str, texts) -> SubwordTokenizer:  # noqa: ANN001
    """The `role` ('target' or 'source') tokenizer: the run's own copy, else the given one, else
    trained on `texts` (an iterable of strings, consumed only when training). The run directory
    keeps a copy so `seqrl eval RUN_DIR` needs nothing else."""
    d = cfg.data
    if role == "source":
        filename, path, key, size = SOURCE_TOKENIZER_FILE, d.source_tokenizer_path, "data.source_tokenizer_path", \
            d.source_vocab_size or d.vocab_size
    else:
        filename, path, key, size = TOKENIZER_FILE, d.tokenizer_path, "data.tokenizer_path", d.vocab_size
    saved = run_dir / filename
    given = _given_tokenizer(cfg, path, key, filename)
    if saved.exists():
        return SubwordTokenizer.load(saved)
    tokenizer = SubwordTokenizer.load(given) if given is not None else train_tokenizer(texts, d.tokenizer, size)
    run_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save(saved)
    return tokenizer


def _stream(cfg: Config, stats: ReadStats):
    """A function starting a fresh pass over the training data (data.stream)."""
    d = cfg.data
    assert d.train is not None
    limits = Limits(empty=d.empty, max_chars=d.max_chars, too_long=d.too_long, on_error=d.on_error)
    options = {"source_ext": d.source_ext, "target_ext": d.target_ext, "source_key": d.source_key,
               "reference_key": d.reference_key, "split": d.train_split}

    def open_examples(counted: ReadStats | None = None):
        return islice(read_text_examples(d.format, d.train, options, limits, counted or ReadStats()), d.max_train)

    # One full pass now, so a malformed line stops the run before any compute (with file:line);
    # its counts are the ones logged (later passes count nothing).
    try:
        count = sum(1 for _ in open_examples(stats))
    except DataError as err:
        raise ConfigError(f"data: {err}") from None
    if count == 0:
        raise ConfigError(f"data: no usable examples in {d.train} ({stats.as_dict()})")
    return open_examples


def build_text(cfg: Config, run_dir: Path) -> tuple[TextTask, TextData | StreamingTextData]:
    """Read train/valid text, get the tokenizer (given, saved in the run, or trained), encode."""
    d = cfg.data
    assert d.train is not None and d.valid is not None  # Config checks this
    train_stats, valid_stats = ReadStats(), ReadStats()
    if d.stream:
        open_train = _stream(cfg, train_stats)
        train = _Reiterable(open_train)
    else:
        train = _read(cfg, d.train, d.max_train, train_stats, d.train_split)
    valid = _read(cfg, d.valid, d.max_valid, valid_stats, d.valid_split)
    if cfg.model.kind == "hf":
        from seqrl.sequences.build_hf import load_hf_tokenizer

        tokenizer, source_tokenizer = load_hf_tokenizer(cfg, run_dir), None
    elif d.shared_vocab:
        tokenizer = _tokenizer(cfg, run_dir, "target", _named(train, lambda ex: (ex.source, *ex.references)))
        source_tokenizer = None
    else:
        tokenizer = _tokenizer(cfg, run_dir, "target", _named(train, lambda ex: ex.references))
        source_tokenizer = _tokenizer(cfg, run_dir, "source", _named(train, lambda ex: (ex.source,)))
    log.info("text data: train %s, valid %s", train_stats.as_dict(), valid_stats.as_dict())
    task = TextTask(tokenizer, text_reward(cfg), d.max_tokens, parse_metrics(d.metrics), source_tokenizer,
                    has_reference=d.reference_key is not None)
    validation = tuple(encode_examples(valid, tokenizer, d.max_tokens, source_tokenizer, d.keep_source))
    if d.stream:
        encode = partial(encode_examples, tokenizer=tokenizer, max_tokens=d.max_tokens, keep=d.keep_source,
                         source_tokenizer=source_tokenizer)
        return task, StreamingTextData(open_train, encode, validation, cfg.run.seed, d.shuffle_buffer)
    return task, TextData(tuple(encode_examples(train, tokenizer, d.max_tokens, source_tokenizer, d.keep_source)),
                          validation, cfg.run.seed)


def _named(examples, fields) -> Iterator[str]:  # noqa: ANN001
    """The texts tokenizer training reads; the first few with a pathologically long word are named
    (file:line) in the log, since training cuts such words (data.tokenizer.MAX_WORD_CHARS)."""
    named = 0
    for ex in examples:
        for text in fields(ex):
            if named < 3 and (n := longest_word(text)):
                named += 1
                log.warning("%s: a word of %d characters; tokenizer training reads only its first %d", ex.where, n,
                            MAX_WORD_CHARS)
            yield text


class _Reiterable:
    """Each iteration starts a fresh pass (tokenizer training reads a streamed corpus from disk)."""

    def __init__(self, open_examples) -> None:  # noqa: ANN001
        self.open_examples = open_examples

    def __iter__(self):
        return iter(self.open_examples())


def read_eval_split(cfg: Config, task: TextTask, path: str, split: str | None) -> tuple[list, dict]:
    """Encoded examples of an evaluation file/dataset in the run's data format, and what the
    reader dropped or skipped (the data section's empty/too_long/on_error rules apply)."""
    stats = ReadStats()
    texts = _read(cfg, path, None, stats, split)
    return (encode_examples(texts, task.tokenizer, cfg.data.max_tokens, task.source_tokenizer, cfg.data.keep_source),
            stats.as_dict())
