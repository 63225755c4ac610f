"""The report of benchmarks/trl_comparison.py: ratios to the issue's targets, per-step curve
distance, the Markdown table with the phase profile, the plot and the environment."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from measure import cpu_model  # beside this script


def ratios(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's targets: seqrl completions/s over TRL RLOO's, seqrl time to 0.8 over TRL GRPO's."""
    by = {r["run"]: r for r in rows}
    out: dict[str, Any] = {}
    trls = [t for t in ("trl_rloo", "trl_grpo", "trl_rloo_posfix", "trl_grpo_posfix") if t in by]
    for ours in ("seqrl_rloo", "seqrl_grpo"):
        if ours not in by:
            continue
        for trl in trls:
            out[f"{ours}_completions_per_s_over_{trl}"] = by[ours]["completions_per_s"] / by[trl]["completions_per_s"]
        mine = by[ours]["to_target"]
        for trl in trls:
            theirs = by[trl]["to_target"]
            if mine and theirs:
                out[f"{ours}_time_to_target_over_{trl}"] = mine["seconds"] / theirs["seconds"]
            elif mine:  # TRL never reached the target: its time is more than its whole run
                out[f"{ours}_time_to_target_over_{trl}_at_most"] = mine["seconds"] / by[trl]["train_seconds"]
    return out


def same_curve(curves: dict[str, list[dict[str, Any]]], a: str, b: str) -> Optional[dict[str, float]]:
    """How far apart two runs' per-step curves are: mean |difference| of their 10-step mean rewards
    over the steps both ran."""
    if a not in curves or b not in curves:
        return None

    def smooth(c: list[dict[str, Any]]) -> list[float]:
        r = [p["reward"] for p in c]
        return [sum(r[i - 9 : i + 1]) / 10 for i in range(9, len(r))]

    x, y = smooth(curves[a]), smooth(curves[b])
    n = min(len(x), len(y))
    if n == 0:
        return None
    return {"steps_compared": n + 9, "mean_abs_diff_10step_reward": sum(abs(u - v) for u, v in zip(x, y)) / n}


def where(report: dict[str, Any]) -> str:
    """The machine the runs trained on, in words."""
    env, model = report["environment"], report.get("model") or {"size": "tiny"}
    size = {"tiny": "the task's 2-layer GPT-2", "small": "a GPT-2-small-sized model (12 layers, width 768, "
            "random weights from the config plus the warm start)"}.get(model["size"], model["size"])
    device = report.get("device", "cpu")
    if device == "cpu":
        machine = f"{env['cpu_model']} ({env['cores']} cores, 2 torch threads per run)"
    else:
        machine = f"{env.get('gpu') or device} ({device}, {report.get('precision', 'fp32')})"
    return f"{size} on {machine}"


def markdown(report: dict[str, Any]) -> str:
    rows, env = report["rows"], report["environment"]
    gpu = any(r.get("peak_gpu_mib") is not None for r in rows)
    lines = [f"{where(report)}, torch {env['torch']}, "
             f"transformers {env['transformers']}, TRL {env['trl']}, {env['date']}. Each run trains for "
             f"{report['budget_s']:.0f} s of wall time from the same warm start (sampled reward "
             f"{report['warm_start']['sampled_reward']:.3f}); 32 prompts x 8 samples per step, lr 1e-4, "
             "at most 8 new tokens, temperature 1.", "",
             "| run | steps | completions/s | tokens/s | reward, last 10 steps | time to 10-step mean 0.8 "
             "| greedy exact match (held out) | peak RSS |" + (" peak GPU memory |" if gpu else ""),
             "|---|---|---|---|---|---|---|---|" + ("---|" if gpu else "")]
    for r in rows:
        t = r["to_target"]
        reach = f"{t['seconds']:.0f} s (step {t['step']})" if t else "not reached"
        lines.append(f"| {r['run']} | {r['steps']} | {r['completions_per_s']:,.0f} | {r['tokens_per_s']:,.0f} | "
                     f"{r['final_reward_10']:.3f} | {reach} | {r['greedy_exact_match']:.3f} | {r['peak_rss_mib']:.0f} MiB |"
                     + (f" {r['peak_gpu_mib']:,.0f} MiB |" if gpu else ""))
    profiled = [r for r in rows if r.get("profile")]
    if profiled:
        phases = ("sample", "reward", "logprobs_forward", "backward", "optimizer")
        lines += ["", "Mean milliseconds per step by phase (steps after the first "
                  f"{report['settings']['skip_profile']}; `logprobs_forward` is every teacher-forced log-prob pass):", "",
                  "| run | step | " + " | ".join(phases) + " | other |", "|---|" + "---|" * (len(phases) + 2)]
        for r in profiled:
            p = r["profile"]
            other = p["step"] - sum(p.get(k, 0.0) for k in phases)
            lines.append(f"| {r['run']} | {p['step'] * 1e3:.0f} | " + " | ".join(f"{p.get(k, 0.0) * 1e3:.0f}" for k in phases)
                         + f" | {other * 1e3:.0f} |")
    lines += ["", "Ratios (`_at_most`: TRL did not reach 0.8, so its time is taken as its whole run): "
              + ", ".join(f"{k} = {v:.2f}" for k, v in report["ratios"].items())]
    for other, su in (report.get("same_update") or {}).items():
        if su:
            lines.append(f"seqrl_rloo vs {other} per-step curves: mean |difference| of the 10-step mean reward "
                         f"{su['mean_abs_diff_10step_reward']:.3f} over the first {su['steps_compared']} steps.")
    check = report["warm_start"].get("padding_check")
    if check:
        lines.append(f"Completion log-probabilities of a left-padded 3-digit prompt against the unpadded row (warm "
                     f"start): max |difference| {check['without_position_ids']:.3g} without position ids (TRL's "
                     f"scoring call), {check['mask_position_ids']:.3g} with mask-derived ones (seqrl, the plain loop).")
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, curve in report["curves"].items():
        r = [p["reward"] for p in curve]
        smooth = [sum(r[max(0, i - 9) : i + 1]) / len(r[max(0, i - 9) : i + 1]) for i in range(len(r))]
        axes[0].plot([p["seconds"] for p in curve], smooth, label=name)
        axes[1].plot([p["step"] for p in curve], smooth, label=name)
    on = "2-core CPU" if report.get("device", "cpu") == "cpu" else report["device"]
    for ax, xlabel in zip(axes, (f"training wall time (s, {on})", "step")):
        ax.axhline(report["settings"]["target"], color="grey", lw=0.8, ls=":")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("training reward (10-step mean)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"digit reversal, {where(report)}: seqrl vs TRL on identical work", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def environment() -> dict[str, Any]:
    import platform
    from datetime import datetime, timezone

    import torch
    import transformers

    try:
        import trl

        trl_version = trl.__version__
    except ImportError:
        trl_version = None
    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "python": platform.python_version(),
            "torch": torch.__version__, "transformers": transformers.__version__, "trl": trl_version,
            "cpu_model": cpu_model(), "cores": os.cpu_count(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
