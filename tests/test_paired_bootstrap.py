"""benchmarks/paired_bootstrap.py: paired bootstrap intervals of a corpus BLEU gain, and their place in
the Multi30k seeds report."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sacrebleu.metrics import BLEU

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import multi30k_risk  # noqa: E402
import paired_bootstrap as pb  # noqa: E402

sys.path.remove(str(ROOT / "benchmarks"))

REFS = ["a man rides a red bike down the street", "two dogs play in the snow", "a woman is reading a book",
        "children run across a green field", "a chef cooks food in a kitchen", "the band plays on a stage"] * 5
WEAK = ["a man rides a bike", "dogs play in snow", "a woman reads", "kids run on a field", "a cook in a kitchen",
        "a band on stage"] * 5
BETTER = [*REFS[:12], *WEAK[12:]]


def test_the_whole_set_gain_is_sacrebleus_corpus_bleu_difference() -> None:
    base, system = pb.segment_stats(WEAK, REFS), pb.segment_stats(BETTER, REFS)
    r = pb.paired_bootstrap(base, system, samples=200, seed=3)
    want = BLEU().corpus_score(BETTER, [REFS]).score - BLEU().corpus_score(WEAK, [REFS]).score
    assert r["gain"] == pytest.approx(want, abs=1e-9)
    assert r["low"] <= r["gain"] <= r["high"] and r["low"] > 0 and r["above_zero"] == 1.0  # copying references wins
    assert pb.paired_bootstrap(base, system, samples=200, seed=3) == r  # same seed, same interval
    assert pb.paired_bootstrap(base, system, samples=200, seed=4) != r


def test_a_system_against_itself_gains_nothing_on_every_resample() -> None:
    stats = pb.segment_stats(WEAK, REFS)
    r = pb.paired_bootstrap(stats, stats.copy(), samples=50)
    assert (r["gain"], r["low"], r["high"], r["above_zero"]) == (0.0, 0.0, 0.0, 0.0)


def test_different_test_sets_are_refused() -> None:
    with pytest.raises(ValueError, match="6 hypotheses for 30 references"):
        pb.segment_stats(WEAK[:6], REFS)
    with pytest.raises(ValueError, match="not the same test set"):
        pb.paired_bootstrap(pb.segment_stats(WEAK, REFS), pb.segment_stats(WEAK[:6], REFS[:6]))


def test_the_command_line(tmp_path: Path) -> None:
    refs, base, system = tmp_path / "refs.en.gz", tmp_path / "base.txt", tmp_path / "system.txt"
    with gzip.open(refs, "wt", encoding="utf-8") as f:
        f.write("\n".join(REFS) + "\n")
    base.write_text("\n".join(WEAK) + "\n")
    system.write_text("\n".join(BETTER) + "\n")
    proc = subprocess.run([sys.executable, "benchmarks/paired_bootstrap.py", str(refs), str(base), str(system),
                           "--samples", "100"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "95% interval [+" in proc.stdout and "above 0 in 100.0%" in proc.stdout
    system.write_text("\n".join(BETTER[:7]) + "\n")  # a short file: one line naming both files, no traceback
    proc = subprocess.run([sys.executable, "benchmarks/paired_bootstrap.py", str(refs), str(base), str(system)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "7 hypotheses for 30 references" in proc.stderr and str(system) in proc.stderr


def _run(tmp_path: Path, name: str, step: int, lines: list[str], bleu: float | None = None) -> dict:
    run_dir = tmp_path / name
    (run_dir / "eval").mkdir(parents=True)
    scores = {}
    for key in ("test_greedy", "test_beam"):
        multi30k_risk.hypotheses(str(run_dir), step, key).write_text("\n".join(lines) + "\n")
        scores[key] = {"bleu": BLEU().corpus_score(lines, [REFS]).score if bleu is None else bleu}
    return {"name": name, "run_dir": str(run_dir), "eval": {"best_step": step, **scores}}


def test_the_seeds_report_gives_each_run_its_interval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(multi30k_risk.m30k, "DATA", tmp_path)
    with gzip.open(tmp_path / "test_2016_flickr.en.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(REFS) + "\n")
    start = _run(tmp_path, "start", 300, WEAK)
    res = {"start": start, "rows": [_run(tmp_path, "+ SCST", 50, BETTER),
                                    _run(tmp_path, "+ RLOO", 50, BETTER, bleu=12.3)]}  # scored on other files
    multi30k_risk.add_intervals(res, samples=100)
    got = res["rows"][0]["intervals"]["test_beam"]
    assert got["gain"] == pytest.approx(res["rows"][0]["eval"]["test_beam"]["bleu"] - start["eval"]["test_beam"]["bleu"])
    assert got["low"] > 0 and "intervals" not in res["rows"][1]  # a run retrained since has no interval
    json.dumps(res)  # the results file can hold it
    assert np.isfinite([got["low"], got["high"]]).all()
