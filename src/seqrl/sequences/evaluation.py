"""`seqrl eval`: decode a split greedily or by beam search, write the hypotheses, score the corpus.

Every run writes `RUN_DIR/eval/<split>.<decoding>.step<N>.txt` (one hypothesis a line, in input
order; detokenized text for text runs) and `.json` (the scores, the checkpoint's step, the
decoding); N is the step of the checkpoint evaluated, so evaluating another checkpoint never
overwrites these.
Text runs are scored by corpus metrics with their sacreBLEU signatures and can evaluate any file
or saved dataset (`--data`); other tasks use their own validation set and metrics.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from seqrl.config import ConfigError
from seqrl.rewards.corpus import corpus_scores
from seqrl.tasks.base import example_columns
from seqrl.tasks.text import TextTask
from seqrl.sequences.build_text import read_eval_split
from seqrl.train.trainer import Trainer


def eval_examples(trainer: Trainer, data: Optional[str], split: str) -> tuple[list, dict[str, int]]:
    """The examples to evaluate: `data` read in the run's format (a prefix, file or saved
    dataset; `split` picks a saved dataset's split), else the run's validation set."""
    if data is None:
        if split not in ("validation", "valid"):
            raise ConfigError(f"--split {split} needs --data (without --data, eval uses the run's validation set)")
        return list(trainer.source.data.validation), {}
    if not isinstance(trainer.source.task, TextTask):
        raise ConfigError(f"--data is for text runs; task {trainer.source.task.name!r} generates its own validation set")
    hf_split = split if trainer.cfg.data.format == "hf_disk" else None
    return read_eval_split(trainer.cfg, trainer.source.task, data, hf_split)


def evaluate_run(trainer: Trainer, data: Optional[str] = None, split: str = "validation",
                 beam: Optional[int] = None, length_penalty: float = 1.0,
                 out_dir: Optional[Path] = None) -> dict[str, Any]:
    """Decode and score; for text runs also write the hypotheses and the result files."""
    examples, stats = eval_examples(trainer, data, split)
    decoding = f"beam{beam}" if beam else "greedy"
    result: dict[str, Any] = {"run_dir": str(trainer.run_dir), "step": trainer.state.step, "split": split,
                              "data": data, "decoding": decoding, "size": len(examples)}
    if beam:
        result["length_penalty"] = length_penalty
    outputs = trainer.source.decode(examples, beam, length_penalty)
    hyps = [trainer.source.task.vocab.render(o) for o in outputs]
    if isinstance(trainer.source.task, TextTask) and trainer.source.task.has_reference:
        refs = [list(e.reference_texts or ()) for e in examples]
        result.update(corpus_scores(hyps, refs, trainer.source.task.corpus_metrics, signatures=True))
    else:
        refs_ids = [list(e.target) if e.target is not None else None for e in examples]
        result.update(trainer.source.task.metrics(outputs, refs_ids, [list(e.source) for e in examples],
                                           **(example_columns(examples) or {})))
    if stats:
        result["reader"] = stats
    out_dir = out_dir or trainer.run_dir / "eval"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{split}.{decoding}.step{trainer.state.step}"  # the checkpoint's step: others never overwrite it
    hyp_path = out_dir / f"{stem}.txt"
    hyp_path.write_text("".join(h.replace("\n", " ") + "\n" for h in hyps), encoding="utf-8")
    result["hypotheses"] = str(hyp_path)
    (out_dir / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
