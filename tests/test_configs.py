"""Every shipped config in configs/ loads, validates and trains for a few steps."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from seqrl.config import load_config
from seqrl.tasks import TASKS
from seqrl.sources import make_trainer

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
FILES = sorted(CONFIGS.glob("*.yaml"))

# Three steps; REINFORCE reached from the first step after the first (warmup/alternate: warmup_steps=1;
# mixer: one step per stage), so both the cross-entropy and the REINFORCE paths of each config run.
SMOKE = ["optim.steps=3", "run.eval_every=3", "task.val_size=8", "run.progress=false",
         "optim.batch_size=8", "curriculum.warmup_steps=1", "curriculum.mixer_every=1", "run.threads=1"]


# Environment configs: one short episode per step on one environment.
ENV_SMOKE = ["optim.steps=3", "run.eval_every=3", "run.progress=false", "run.threads=1", "env.num_envs=1",
             "env.episodes_per_step=1", "env.eval_episodes=1", "env.max_episode_steps=40", "q.learning_starts=10"]


def test_configs_exist_for_every_task():
    assert FILES, f"no configs in {CONFIGS}"
    covered = {load_config(path).task.name for path in FILES if load_config(path).env.id is None}
    assert covered >= set(TASKS), f"tasks without a config: {sorted(set(TASKS) - covered)}"


TEXT_SMOKE = ["data.max_train=300", "data.max_valid=20", "data.vocab_size=300"]


def _smoke_overrides(cfg) -> list[str]:
    """SMOKE, plus small data for text configs (skipped where their data files are absent)."""
    if cfg.env.id is not None:
        pytest.importorskip("gymnasium")
        return ENV_SMOKE
    if cfg.task.name != "text":
        return SMOKE
    needed = Path(cfg.data.train + cfg.data.source_ext) if cfg.data.format == "parallel" else Path(cfg.data.train)
    if not needed.exists():
        pytest.skip(f"data for this config is absent: {needed} (shared data not beside the repository)")
    return SMOKE + TEXT_SMOKE + ["run.init_from=null"]  # fine-tuning configs: no stage-1 run here


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_config_loads_and_documents_its_result(path: Path):
    cfg = load_config(path)  # validates every key and range
    assert cfg.task.name in TASKS or cfg.task.name == "text" or cfg.env.id is not None
    header = path.read_text().splitlines()
    assert header[0].startswith("#"), f"{path.name}: starts without a header comment"
    assert any("Observed" in line for line in header if line.startswith("#")), \
        f"{path.name}: the header does not say what the config reached"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_config_trains_three_steps(path: Path, tmp_path: Path):
    cfg = load_config(path, _smoke_overrides(load_config(path)))
    summary = make_trainer(cfg, tmp_path / "run").fit()
    assert summary["step"] == 3
    if cfg.env.id is not None:  # the mean greedy return of the validation episodes
        assert math.isfinite(summary["return_mean"]) and summary["episodes"] == 1
    elif cfg.task.name == "text":  # corpus BLEU; the mean sentence reward may include a (negative) length term
        assert 0.0 <= summary["bleu"] <= 100.0 and math.isfinite(summary["reward"])
    else:
        headline = next(k for k in ("exact_match", "success_rate", "reward") if k in summary)
        assert 0.0 <= summary[headline] <= 1.0
    evals = [json.loads(line) for line in (tmp_path / "run" / "eval.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals] == [3]
    modes = [json.loads(line)["mode"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert modes  # log_every may skip steps; the last step is always logged
