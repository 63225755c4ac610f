"""The CartPole tuning record: per-seed lines and summaries parsed from the tuner's output."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import cartpole_tune  # noqa: E402


def test_records_from_logs_recompute_median_and_keep_unreached_seeds(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text('10 {"reached": 80000}\n11 {"reached": null}\n12 {"reached": 90000}\n'
                   "SUMMARY seqrl_dqn ['q.double=true', 'optim.lr=0.0003'] 2/3 median 90000 max inf\n"
                   '0 {"reached": 50000}\nSUMMARY seqrl_reinforce [] 1/1 median 50000 max 50000\n')
    dqn, rf = cartpole_tune.from_logs([log], "test machine")
    assert dqn["overrides"] == ["q.double=true", "optim.lr=0.0003"] and dqn["seeds"] == [10, 11, 12]
    assert (dqn["reached"], dqn["runs"], dqn["median"], dqn["max"]) == (2, 3, 90000, None)
    assert rf["seeds"] == [0] and rf["median"] == 50000
    md = cartpole_tune.markdown([dqn, rf])
    assert "| seqrl_dqn | q.double=true optim.lr=0.0003 | 10-12 | 2/3 | 90,000 | not reached |" in md
    assert "| seqrl_reinforce | (none) | 0-0 | 1/1 | 50,000 | 50,000 |" in md
