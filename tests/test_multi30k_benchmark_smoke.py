"""Smoke test: `benchmarks/multi30k_benchmark.py --quick` runs every stage and writes its table."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "multi30k"


def test_quick_multi30k_benchmark(tmp_path: Path) -> None:
    if not (DATA / "train.de.gz").exists():
        pytest.skip(f"Multi30k is absent at {DATA} (the shared data is not beside the repository)")
    out = tmp_path / "m.json"
    proc = subprocess.run([sys.executable, "benchmarks/multi30k_benchmark.py", "--quick", "--threads", "1",
                           "--work", str(tmp_path / "runs"), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    res = json.loads(out.read_text())
    names = [r["name"] for r in res["rows"]]
    assert names[0] == "cross-entropy" and {"+ SCST", "+ RLOO", "+ MIXER"} <= set(names)
    for row in res["rows"]:
        for key in ("validation_greedy", "validation_beam", "test_greedy", "test_beam"):
            assert 0.0 <= row["eval"][key]["bleu"] <= 100.0 and row["eval"][key]["size"] == 16
        assert row["summary"]["peak_rss_mib"] > 0 and row["wall_s"] > 0
    for row in res["rows"][1:]:  # stage 2 started from stage 1's run
        assert f"run.init_from={tmp_path / 'runs' / 'cross-entropy'}" in row["overrides"]
    table = out.with_suffix(".md").read_text()
    assert "| + RLOO |" in table and "test BLEU beam" in table
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    # --report-only rewrites the table and the plot from the JSON alone
    out.with_suffix(".md").unlink()
    out.with_suffix(".png").unlink()
    again = subprocess.run([sys.executable, "benchmarks/multi30k_benchmark.py", "--report-only", "--out", str(out)],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    assert out.with_suffix(".md").read_text() == table and out.with_suffix(".png").exists()
    # --reuse: a stage this script trained with the same config is kept, with the wall time measured then
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from multi30k_benchmark import QUICK, stage_fingerprint, train_stage

    stage1 = tmp_path / "runs" / "cross-entropy"
    before = (stage1 / "summary.jsonl").stat().st_mtime_ns
    kept = train_stage("configs/multi30k.yaml", stage1, list(QUICK), 1, reuse=True)
    assert kept["reused"] and kept["wall_s"] == res["rows"][0]["wall_s"]
    assert kept["summary"] == res["rows"][0]["summary"]
    assert (stage1 / "summary.jsonl").stat().st_mtime_ns == before  # not retrained
    # any other setting is another stage: it would be trained again
    settings = [*QUICK, "run.threads=1", "run.progress=false"]
    assert stage_fingerprint("configs/multi30k.yaml", settings) == json.loads((stage1 / "stage.json").read_text())["config"]
    assert stage_fingerprint("configs/multi30k.yaml", [*settings, "optim.lr=0.001"]) != \
        stage_fingerprint("configs/multi30k.yaml", settings)


def test_a_kept_stage_is_reused_when_seqrl_only_added_an_option_at_its_default() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import multi30k_benchmark as m30k
    finally:
        sys.path.pop(0)
    now = m30k.stage_fingerprint("configs/multi30k_rloo.yaml", ["run.threads=1"])
    older = json.loads(json.dumps(now))
    del older["reinforce"]["xent_coef"]  # a run trained before the option existed
    assert m30k.same_config(older, now)
    assert not m30k.same_config(older, m30k.stage_fingerprint("configs/multi30k_rloo.yaml",
                                                              ["run.threads=1", "reinforce.xent_coef=0.5"]))
    assert not m30k.same_config(now, m30k.stage_fingerprint("configs/multi30k_rloo.yaml", ["run.threads=2"]))
    gone = json.loads(json.dumps(now))
    gone["reinforce"]["retired_option"] = 1  # the run had a setting this seqrl no longer has
    assert not m30k.same_config(gone, now)
    started = {**now, "after": {"wall_s": 1.0}}  # a stage-2 run and the start it began from
    assert m30k.same_config(started, {**now, "after": {"wall_s": 1.0}})
    assert not m30k.same_config(started, {**now, "after": {"wall_s": 2.0}})  # the start was retrained since
