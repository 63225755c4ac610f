"""Reward and validation curves of one or more runs, as a PNG."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from seqrl.run import jsonl  # noqa: E402

VALIDATION_KEYS = ("exact_match", "success_rate", "partial_credit", "reward")


def _smooth(values: list[float], window: int) -> list[float]:
    out, acc = [], []
    for v in values:
        acc.append(v)
        if len(acc) > window:
            acc.pop(0)
        out.append(sum(acc) / len(acc))
    return out


def plot_runs(run_dirs: Sequence[str | Path], output: str | Path, smooth: int = 5) -> Path:
    """Draw training reward and validation metrics against step for each run; returns the PNG path."""
    fig, (ax_r, ax_v) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for run in map(Path, run_dirs):
        if not (run / "metrics.jsonl").exists():
            raise FileNotFoundError(f"{run} is not a run directory (no metrics.jsonl)")
        label = run.name
        records = list(jsonl.read(run / "metrics.jsonl"))
        rows = [r for r in records if r.get("reward_mean") is not None]
        switch = next((r["step"] for r in records if r.get("mode") == "reinforce"), None)
        if switch is not None and records and records[0].get("mode") == "xent":
            ax_v.axvline(switch, color="grey", linestyle=":", linewidth=1)  # first REINFORCE step
        if rows:
            ax_r.plot([r["step"] for r in rows], _smooth([r["reward_mean"] for r in rows], smooth), label=label)
        evals = list(jsonl.read(run / "eval.jsonl"))
        for key in VALIDATION_KEYS:
            pts = [(e["step"], e[key]) for e in evals if e.get(key) is not None]
            if pts:
                ax_v.plot(*zip(*pts), marker="o", markersize=3, label=f"{label}: {key}")
                break
    ax_r.set(title="training reward (REINFORCE steps)", xlabel="step", ylabel="mean reward")
    ax_v.set(title="greedy validation (dotted: REINFORCE starts)", xlabel="step", ylabel="score", ylim=(0, 1.02))
    for ax in (ax_r, ax_v):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=120)
    plt.close(fig)
    return output
