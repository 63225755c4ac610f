"""Reward and validation curves of one or more runs, as a PNG.

Each run keeps one colour: its training reward (left), its validation scores (right: exact match
or success rate, or BLEU and chrF for text runs) and a dotted line where its REINFORCE steps
start, on both panels. The reward axis names the reward of the runs and says when a k1 KL penalty
is part of it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import matplotlib
import yaml

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from seqrl.run.errors import ConfigError  # noqa: E402
from seqrl.run import jsonl  # noqa: E402

VALIDATION_KEYS = ("exact_match", "success_rate", "partial_credit", "reward")
TEXT_KEYS = ("bleu", "chrf")  # corpus scores in [0, 100]


def _smooth(values: list[float], window: int) -> list[float]:
    out, acc = [], []
    for v in values:
        acc.append(v)
        if len(acc) > window:
            acc.pop(0)
        out.append(sum(acc) / len(acc))
    return out


def _config(run: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _plot_env(ax_r: Any, ax_v: Any, rows: list[dict[str, Any]], evals: list[dict[str, Any]], colour: str,
              label: str, smooth: int) -> None:
    """An environment run: mean training episode return and greedy validation return against the
    environment steps trained on (validation rows take the steps of the last logged step before them)."""
    x = [r["env_steps_total"] for r in rows if "env_steps_total" in r]
    if x:
        ax_r.plot(x, _smooth([r["reward_mean"] for r in rows if "env_steps_total" in r], smooth), color=colour,
                  label=label)
    at = {r["step"]: r["env_steps_total"] for r in rows if "env_steps_total" in r}
    pts = []
    for e in evals:
        before = [s for s in at if s <= e["step"]]
        if before and e.get("return_mean") is not None:
            pts.append((at[max(before)], e["return_mean"]))
    if pts:
        ax_v.plot(*zip(*pts), "-", marker="o", markersize=3, color=colour, label=f"{label}: greedy return")


def reinforce_start(config: dict[str, Any], records: list[dict[str, Any]]) -> Optional[int]:
    """Completed steps before the first REINFORCE step: exact for warmup / reinforce-only runs
    (from the config), else the first logged REINFORCE row (exact when run.log_every is 1)."""
    cur = config.get("curriculum") or {}
    if cur.get("kind") == "xent":
        return None
    if cur.get("kind") == "reinforce":
        return 0
    if cur.get("kind") == "warmup" and isinstance(cur.get("warmup_steps"), int):
        return cur["warmup_steps"]
    first = next((r for r in records if r.get("mode") == "reinforce"), None)
    return None if first is None else int(first["step"]) - 1


def reward_label(configs: list[dict[str, Any]]) -> str:
    """'mean reward (<task.reward>[, minus the k1 KL penalty])' for the runs drawn."""
    names = []
    for cfg in configs:
        task, rl = cfg.get("task") or {}, cfg.get("reinforce") or {}
        name = str(task.get("reward", "task"))
        if name == "task":
            name = f"{task.get('name', '?')} task reward"
        if (rl.get("kl_coef") or 0) > 0 and rl.get("kl_estimator", "k1") == "k1":
            name += f" - {rl['kl_coef']:g} x KL (k1)"
        if name not in names:
            names.append(name)
    return "mean reward: " + "; ".join(names) if names else "mean reward"


def plot_runs(run_dirs: Sequence[str | Path], output: str | Path, smooth: int = 5) -> Path:
    """Draw training reward and validation metrics against step for each run; returns the PNG path."""
    fig, (ax_r, ax_v) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    configs, text, episodic = [], False, False
    for i, run in enumerate(map(Path, run_dirs)):
        if not (run / "metrics.jsonl").exists():
            raise FileNotFoundError(f"{run} is not a run directory (no metrics.jsonl)")
        colour, label = f"C{i % 10}", run.name
        config = _config(run)
        configs.append(config)
        records = list(jsonl.read(run / "metrics.jsonl"))
        rows = [r for r in records if r.get("reward_mean") is not None]
        if (config.get("env") or {}).get("id"):  # an environment: returns against environment steps
            episodic = True
            _plot_env(ax_r, ax_v, rows, list(jsonl.read(run / "eval.jsonl")), colour, label, smooth)
            continue
        start = reinforce_start(config, records)
        if start is not None and start > 0:
            for ax in (ax_r, ax_v):
                ax.axvline(start, color=colour, linestyle=":", linewidth=1)
        if rows:
            ax_r.plot([r["step"] for r in rows], _smooth([r["reward_mean"] for r in rows], smooth), color=colour,
                      label=label)
        evals = list(jsonl.read(run / "eval.jsonl"))
        if any(e.get("bleu") is not None for e in evals):
            text = True
            keys: Sequence[str] = TEXT_KEYS
        else:
            keys = [next((k for k in VALIDATION_KEYS if any(e.get(k) is not None for e in evals)), "")]
        for key, style in zip(keys, ("-", "--")):
            pts = [(e["step"], e[key]) for e in evals if e.get(key) is not None]
            if pts:
                ax_v.plot(*zip(*pts), style, marker="o", markersize=3, color=colour, label=f"{label}: {key}")
    if episodic and len(configs) == sum(bool((c.get("env") or {}).get("id")) for c in configs):
        ax_r.set(title="training episodes", xlabel="environment steps", ylabel="mean episode return")
        ax_v.set(title="greedy validation episodes", xlabel="environment steps", ylabel="mean episode return")
    elif episodic:
        raise ConfigError("seqrl plot: environment runs and sequence runs have different axes; plot them apart")
    else:
        ax_r.set(title="training reward (REINFORCE steps)", xlabel="step", ylabel=reward_label(configs))
        ax_v.set(title="greedy validation (dotted: REINFORCE starts)", xlabel="step",
                 ylabel="corpus score (0-100)" if text else "score")
        ax_v.set_ylim(bottom=0, top=None if text else 1.02)
    for ax in (ax_r, ax_v):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=120)
    plt.close(fig)
    return output
