"""Paired bootstrap resampling of corpus BLEU (Koehn 2004): how sure a BLEU gain on one test set is.

    python benchmarks/paired_bootstrap.py REFERENCES BASE.txt SYSTEM.txt [--samples 1000] [--seed 0]

REFERENCES is one reference per line (plain or .gz), BASE.txt and SYSTEM.txt one detokenized
hypothesis per line for the same sentences. The test set's sentences are resampled with replacement
`--samples` times; each resample scores both systems on the same sentences (sacreBLEU's default
BLEU, from its own sentence statistics), and the 2.5th and 97.5th percentiles of SYSTEM - BASE are
the 95% interval of the gain. A gain whose interval holds 0 is within what another draw of test
sentences could undo.
"""
from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np


def read_lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def segment_stats(hypotheses: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """sacreBLEU's sufficient statistics of each sentence (N, 2 + 2 x 4): lengths, then n-gram
    matches and totals."""
    from sacrebleu.metrics import BLEU

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    return np.asarray(BLEU()._extract_corpus_statistics(list(hypotheses), [list(references)]), dtype=np.int64)


def corpus_bleu(stats: np.ndarray) -> float:
    """Corpus BLEU of summed sentence statistics (10,), as sacreBLEU's corpus_score computes it."""
    from sacrebleu.metrics import BLEU

    return float(BLEU()._compute_score_from_stats(stats.tolist()).score)


def paired_bootstrap(base: np.ndarray, system: np.ndarray, samples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The gain of `system` over `base` (both (N, 10) sentence statistics of the same sentences):
    on the whole set, and its 95% interval and the share of resamples it is above 0 over `samples`
    paired resamples (the same sentence indices for both; a fixed seed gives the same interval)."""
    if base.shape != system.shape:
        raise ValueError(f"statistics of {base.shape[0]} and {system.shape[0]} sentences: not the same test set")
    idx = np.random.default_rng(seed).integers(0, base.shape[0], size=(samples, base.shape[0]))  # (S, N)
    gains = np.array([corpus_bleu(system[i].sum(0)) - corpus_bleu(base[i].sum(0)) for i in idx])  # (S,)
    low, high = np.percentile(gains, [2.5, 97.5])
    return {"gain": corpus_bleu(system.sum(0)) - corpus_bleu(base.sum(0)), "low": float(low), "high": float(high),
            "above_zero": float((gains > 0).mean()), "samples": samples, "seed": seed}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("references", type=Path)
    p.add_argument("base", type=Path)
    p.add_argument("system", type=Path)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.samples < 1:
        p.error("--samples: at least 1")
    try:
        refs = read_lines(args.references)
        base, system = (segment_stats(read_lines(path), refs) for path in (args.base, args.system))
    except (OSError, UnicodeDecodeError) as err:
        p.error(str(err))
    except ValueError as err:
        p.error(f"{args.base} / {args.system}: {err}")
    r = paired_bootstrap(base, system, args.samples, args.seed)
    print(f"BLEU {corpus_bleu(base.sum(0)):.2f} -> {corpus_bleu(system.sum(0)):.2f}: gain {r['gain']:+.2f}, "
          f"95% interval [{r['low']:+.2f}, {r['high']:+.2f}] over {r['samples']} paired resamples; "
          f"above 0 in {100 * r['above_zero']:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
