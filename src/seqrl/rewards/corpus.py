"""Corpus-level scores of detokenized hypotheses: sacreBLEU BLEU / chrF / chrF++ / TER (with
their signatures, so a reported number says how it was computed) and ROUGE (rouge-score).

These are evaluation metrics, not rewards: BLEU and chrF are computed from statistics summed
over the corpus, which is not the mean of sentence scores. ROUGE is reported as the mean over
examples of the best F-measure against the example's references, times 100.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

from seqrl.rewards.text import make_text_reward

CORPUS_METRICS: dict[str, str] = {
    "bleu": "sacreBLEU corpus BLEU (13a tokenization, exp smoothing), 0-100",
    "chrf": "sacreBLEU corpus chrF, 0-100",
    "chrf++": "sacreBLEU corpus chrF++ (word_order=2), 0-100",
    "ter": "sacreBLEU corpus TER, 0-100+ (lower is better)",
    "rouge-1": "mean ROUGE-1 F-measure x 100 (rouge-score, best reference per example)",
    "rouge-2": "mean ROUGE-2 F-measure x 100",
    "rouge-l": "mean ROUGE-L F-measure x 100",
    "rouge-lsum": "mean ROUGE-Lsum F-measure x 100",
}


def parse_metrics(spec: str) -> tuple[str, ...]:
    """'bleu,chrf,rouge-l' -> ('bleu', 'chrf', 'rouge-l'); ValueError naming an unknown metric."""
    names = tuple(n.strip().lower().replace("_", "-") for n in spec.split(",") if n.strip())
    unknown = [n for n in names if n not in CORPUS_METRICS]
    if unknown or not names:
        raise ValueError(f"unknown corpus metric(s) {unknown or spec!r}; known: {', '.join(CORPUS_METRICS)}")
    return names


def reference_streams(refs: Sequence[Optional[Sequence[str]]]) -> list[list[str]]:
    """Per-example reference lists -> sacreBLEU's streams (stream j holds every example's j-th
    reference). Examples with fewer references repeat their first one, which changes neither
    BLEU (counts are clipped by the max over references) nor chrF (best reference)."""
    n = max((len(r) for r in refs if r), default=1)
    return [[(r[j] if j < len(r) else r[0]) if r else "" for r in refs] for j in range(n)]


def _sacrebleu(name: str):
    from sacrebleu.metrics import BLEU, CHRF, TER

    return {"bleu": BLEU, "chrf": CHRF, "chrf++": lambda: CHRF(word_order=2), "ter": TER}[name]()


def corpus_scores(hyps: Sequence[str], refs: Sequence[Optional[Sequence[str]]],
                  metrics: Sequence[str] = ("bleu", "chrf"), signatures: bool = False) -> dict[str, Any]:
    """{metric: score} for detokenized `hyps` against per-example `refs`; with signatures=True
    also {metric}_signature for the sacreBLEU metrics."""
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} reference lists")
    out: dict[str, Any] = {}
    streams = reference_streams(refs)
    for name in metrics:
        if name.startswith("rouge"):
            score = make_text_reward(name)
            values = score(list(hyps), [list(r) if r else [""] for r in refs], [""] * len(hyps))
            out[name] = 100.0 * sum(values) / max(len(values), 1)
            continue
        metric = _sacrebleu(name)
        out[name] = metric.corpus_score(list(hyps), streams).score
        if signatures:
            out[f"{name}_signature"] = str(metric.get_signature())
    return out
