"""Run directories written before the house was rebuilt (tests/fixtures/old_runs, made by
make_old_runs.py at commit 992093d) still resume, and log what the uninterrupted old run logged:
the old config.yaml loads, every random stream is the same, every checkpoint piece still fits."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import logged_rows

OLD = Path(__file__).resolve().parents[1] / "fixtures" / "old_runs"
KINDS = ["sequence", "reinforce_env", "q_learning", "dqn"]


def _close(a, b) -> bool:
    """Equal rows; floats to 1e-6 relative (the fixtures were written on one CPU type: another may
    differ in the last bits, a changed random stream or formula differs in the first)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, (int, float)):
        return b == pytest.approx(a, rel=1e-6, abs=1e-9)
    return a == b


@pytest.mark.parametrize("kind", KINDS)
def test_a_run_directory_from_before_the_rebuild_resumes_to_the_same_rows(tmp_path, kind):
    if kind != "sequence":
        pytest.importorskip("gymnasium")
    from seqrl.sources import resume

    run = tmp_path / kind
    shutil.copytree(OLD / kind, run)
    trainer = resume(run)
    assert trainer.state.step > 0
    trainer.fit()
    for name in ("metrics.jsonl", "eval.jsonl"):
        expected = [json.loads(line) for line in (run / f"expected_{name}").read_text().splitlines()]
        got = logged_rows(run, name)
        assert len(got) == len(expected), name
        for want, row in zip(expected, got):
            assert _close(want, row), (name, want, row)
