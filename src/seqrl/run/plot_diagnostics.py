"""run.diagnostics as a PNG: the gradient estimate's total variance (log scale), its
signal-to-noise ratio and the cosine of single estimates with their mean, against step, one
colour per baseline and one line style per run."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from seqrl.run import jsonl  # noqa: E402
from seqrl.run.errors import RunError  # noqa: E402

FILE = "diagnostics.jsonl"
PANELS = (("total_variance", "total variance tr Cov[g]"), ("snr", "SNR |mean g| / sqrt(tr Cov)"),
          ("cosine", "cosine(single estimate, mean)"))
STYLES = ("-", "--", ":", "-.")


def _rows(path: Path) -> list[dict]:
    """The file's rows, each checked to be a diagnostics row (a RunError naming the line if not)."""
    rows = list(jsonl.read(path))
    for number, row in enumerate(rows, start=1):
        spreads = row.get("baselines")
        if not isinstance(row.get("step"), int) or not isinstance(spreads, dict) or not all(
                isinstance(v, dict) for v in spreads.values()):
            raise RunError(f"{path}: record {number} is not a diagnostics row (step and baselines)")
    return rows


def plot_diagnostics(run_dirs: Sequence[str | Path], output: str | Path) -> Optional[Path]:
    """Draw the runs' diagnostics.jsonl; None (nothing written) when no run measured any."""
    runs = [(Path(r), _rows(Path(r) / FILE)) for r in run_dirs if (Path(r) / FILE).exists()]
    runs = [(r, rows) for r, rows in runs if rows]
    if not runs:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), constrained_layout=True)
    colours: dict[str, str] = {}
    for i, (run, rows) in enumerate(runs):
        for baseline in dict.fromkeys(b for row in rows for b in row["baselines"]):
            colour = colours.setdefault(baseline, f"C{len(colours) % 10}")
            label = baseline if len(runs) == 1 else f"{run.name}: {baseline}"
            for ax, (key, _) in zip(axes, PANELS):
                pts = [(row["step"], row["baselines"][baseline][key]) for row in rows
                       if row["baselines"].get(baseline, {}).get(key) is not None]
                if pts:
                    ax.plot(*zip(*pts), STYLES[i % len(STYLES)], marker="o", markersize=3, color=colour, label=label)
    for ax, (key, title) in zip(axes, PANELS):
        ax.set(title=title, xlabel="step")
        ax.grid(alpha=0.3)
        if key == "total_variance":
            ax.set_yscale("log")
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:  # below the panels, never over the data
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 6), fontsize=8)
    if "ema" in colours and "none" in colours:
        fig.suptitle("ema starts at 0, so its first measurement equals none's (the moving average has seen no "
                     "batch yet)", fontsize=8)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=120)
    plt.close(fig)
    return output
