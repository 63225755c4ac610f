"""Pong from pixels with seqrl's REINFORCE for a fixed wall budget on this machine.

    python benchmarks/pong_benchmark.py [--config configs/pong.yaml] [--minutes 60] [--quick]

Trains `--config` (through the same Trainer as `seqrl train`) with run.time_limit set to the
budget and writes, to benchmarks/results/pong.{json,md,png}: the running mean episode return
(EMA 0.99 over episodes, as the classic agent reports it, started at the first episode's return)
against episodes, environment frames (agent steps x the ALE frameskip of 4) and wall time; the
frames per second; the peak RSS; when the running mean first passed -15, -10, ..., +15; and whether
the target (a running mean of +10, issue 25) was reached, and when. `--report-only` rewrites the
Markdown and plot from the JSON (after a change to the report).

    python benchmarks/pong_benchmark.py --pool A.json B.json ... --out SEEDS.json [--note TEXT]

writes (to benchmarks/results/pong_seeds.json by default) one report over several seeds' results
files of the same config on the same machine type: each seed's row, and the median and range of the
final running mean, of the time to +10 and of the greedy validation; `--note` records how they were
run (e.g. two at a time).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

TARGET, EMA, FRAMESKIP = 10.0, 0.99, 4
MILESTONES = (-15.0, -10.0, -5.0, 0.0, 5.0, 10.0, 15.0)


def curve(rows: list[dict[str, Any]]) -> list[dict[str, float]]:
    """One point per episode: (episodes, frames, seconds, running mean return)."""
    points, running, episodes = [], None, 0
    for r in rows:
        frames = r["env_steps_total"] * FRAMESKIP
        for ret in r["episode_returns"]:
            running = ret if running is None else EMA * running + (1 - EMA) * ret
            episodes += 1
            points.append({"episodes": episodes, "frames": frames, "seconds": r["seconds"], "running_return": running,
                           "return": ret})
    return points


def passed(points: list[dict[str, float]], level: float) -> dict[str, float] | None:
    """The first point whose running mean is at least `level`, or None."""
    return next((p for p in points if p["running_return"] >= level), None)


def report(points: list[dict[str, float]], summary: dict[str, Any], args: argparse.Namespace,
           config: dict[str, Any]) -> dict[str, Any]:
    from measure import cpu_flags, cpu_model  # beside this script

    last = points[-1] if points else None
    return {"config": args.config, "overrides": list(args.overrides), "budget_minutes": args.minutes, "target": TARGET,
            "reached": passed(points, TARGET), "milestones": milestones(points), "final": last,
            "best_running_return": max((p["running_return"] for p in points), default=None),
            "episodes": len(points), "frames": last["frames"] if last else 0,
            "train_seconds": summary["train_seconds"],
            "frames_per_s": (last["frames"] / summary["train_seconds"]) if last else 0.0,
            "peak_rss_mib": summary["peak_rss_mib"], "greedy_validation": {k: summary.get(k) for k in
                                                                           ("return_mean", "episodes")},
            "machine": f"{cpu_model()} ({os.cpu_count()} cores)", "isa": cpu_flags(), "date": time.strftime("%Y-%m-%d"),
            "settings": config, "curve": points}


def milestones(points: list[dict[str, float]]) -> dict[str, dict[str, float] | None]:
    """For each of MILESTONES, the episode, frame count and time the running mean first passed it."""
    out: dict[str, dict[str, float] | None] = {}
    for level in MILESTONES:
        p = passed(points, level)
        out[f"{level:+g}"] = None if p is None else {k: p[k] for k in ("episodes", "frames", "seconds")}
    return out


def markdown(res: dict[str, Any]) -> str:
    fin, reach = res["final"], res["reached"]
    when = (f"yes, after {reach['episodes']} episodes, {reach['frames']:,} frames, {reach['seconds'] / 60:.1f} min"
            if reach else "no")
    marks = res.get("milestones") or {}
    return "\n".join([
        f"{res['machine']}, {res['date']}: `{res['config']}`{with_overrides(res)} for {res['budget_minutes']:g} minutes of "
        "training.", "",
        f"| episodes | frames | frames/s | running mean return (EMA 0.99) | best | reached {res['target']:+g} | peak RSS |",
        "|---|---|---|---|---|---|---|",
        f"| {res['episodes']:,} | {res['frames']:,} | {res['frames_per_s']:,.0f} | "
        f"{fin['running_return']:.2f} | {res['best_running_return']:.2f} | {when} | {res['peak_rss_mib']:,.0f} MiB |",
        "", f"Greedy validation at the end: mean return {res['greedy_validation']['return_mean']} over "
            f"{res['greedy_validation']['episodes']} episodes ({sticky(res)}).", "",
        *([("The running mean first passed: " + "; ".join(
            f"{level} at {m['seconds'] / 60:.0f} min (episode {m['episodes']:,})" for level, m in marks.items()
            if m is not None) + "."), ""] if any(marks.values()) else [])])


def with_overrides(res: dict[str, Any]) -> str:
    """ with `a=b c=d`: the command line's overrides of the config, if any (the settings hold the result)."""
    return f" with `{' '.join(res['overrides'])}`" if res.get("overrides") else ""


def sticky(res: dict[str, Any]) -> str:
    """How the validation games were played: with or without ALE's sticky actions."""
    env = res["settings"]["env"]
    p = {**env.get("kwargs", {}), **env.get("eval_kwargs", {})}.get("repeat_action_probability")
    return f"repeat_action_probability {p}" if p is not None else "the environment's default sticky actions"


def pooled(reports: list[dict[str, Any]], names: list[str], note: str = "") -> dict[str, Any]:
    """One report over several seeds' runs. Refuses runs of different settings (the seed apart), budgets or
    machine types, and a seed twice, each as one line."""
    def without_seed(r: dict[str, Any]) -> str:
        settings = json.loads(json.dumps(r["settings"]))
        settings["run"].pop("seed", None)
        return json.dumps(settings, sort_keys=True)

    for key, what in ((lambda r: r["machine"], "machines"), (lambda r: r["budget_minutes"], "budgets"),
                      (without_seed, "settings (apart from run.seed)")):
        values = {str(key(r)) for r in reports}
        if len(values) > 1:
            raise SystemExit(f"--pool: the files differ in their {what}: {', '.join(names)}")
    seeds = [r["settings"]["run"]["seed"] for r in reports]
    if len(set(seeds)) != len(seeds):
        raise SystemExit(f"--pool: a seed appears twice ({seeds})")
    runs = [{"seed": seed, "file": name, "final_running_return": r["final"]["running_return"],
             "best_running_return": r["best_running_return"], "episodes": r["episodes"], "frames": r["frames"],
             "frames_per_s": r["frames_per_s"], "reached": r["reached"], "milestones": r["milestones"],
             "greedy_validation": r["greedy_validation"], "peak_rss_mib": r["peak_rss_mib"], "date": r["date"]}
            for seed, r, name in zip(seeds, reports, names)]  # the curves stay in their own files
    reached = [x["reached"]["seconds"] / 60 for x in runs if x["reached"]]
    first = reports[0]
    return {"config": first["config"], "overrides": [o for o in first.get("overrides", []) if not o.startswith("run.seed=")],
            "budget_minutes": first["budget_minutes"], "target": TARGET, "machine": first["machine"],
            "isa": first.get("isa"), "date": ", ".join(dict.fromkeys(r["date"] for r in reports)), "note": note,
            "settings": first["settings"], "seeds": seeds, "pooled_from": names,
            "summary": {"reached": len(reached), "minutes_to_target": spread(reached) if reached else None,
                        "final_running_return": spread([x["final_running_return"] for x in runs]),
                        "greedy_return": spread([x["greedy_validation"]["return_mean"] for x in runs]),
                        "frames_per_s": spread([x["frames_per_s"] for x in runs])},
            "runs": runs}


def spread(values: list[float]) -> dict[str, float]:
    """The median, min and max of `values` (not empty)."""
    import statistics

    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def pooled_markdown(res: dict[str, Any]) -> str:
    s = res["summary"]

    def fmt(d: dict[str, float] | None, f: str) -> str:
        return "-" if d is None else f"{d['median']:{f}} [{d['min']:{f}}, {d['max']:{f}}]"

    rows = [f"| {x['seed']} | {x['final_running_return']:+.2f} | {x['best_running_return']:+.2f} | "
            f"{x['reached']['seconds'] / 60:.0f} min (episode {x['reached']['episodes']:,})" if x["reached"] else
            f"| {x['seed']} | {x['final_running_return']:+.2f} | {x['best_running_return']:+.2f} | no"
            for x in res["runs"]]
    rows = [f"{row} | {x['greedy_validation']['return_mean']:+.2f} | {x['episodes']:,} | {x['frames_per_s']:,.0f} |"
            for row, x in zip(rows, res["runs"])]
    return "\n".join([
        f"{res['machine']}, {res['date']}: `{res['config']}`{with_overrides(res)} for {res['budget_minutes']:g} minutes of "
        f"training, seeds {', '.join(map(str, res['seeds']))}." + (f" {res['note']}" if res.get("note") else ""), "",
        f"| seed | final running mean (EMA 0.99) | best | reached {res['target']:+g} | greedy validation "
        f"({res['runs'][0]['greedy_validation']['episodes']} games, {sticky(res)}) | episodes | frames/s |",
        "|---|---|---|---|---|---|---|", *rows, "",
        f"Over the {len(res['runs'])} seeds, median [min, max]: final running mean {fmt(s['final_running_return'], '+.2f')}; "
        f"reached {res['target']:+g} on {s['reached']}/{len(res['runs'])}"
        + (f", after {fmt(s['minutes_to_target'], '.0f')} min" if s["minutes_to_target"] else "")
        + f"; greedy validation {fmt(s['greedy_return'], '+.2f')}; {fmt(s['frames_per_s'], ',.0f')} frames/s.", ""])


def plot_pooled(res: dict[str, Any], reports: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from measure import finish_figure  # beside this script

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for i, (run, report) in enumerate(zip(res["runs"], reports)):
        pts = report["curve"]
        for ax, key, scale in zip(axes, ("episodes", "seconds"), (1, 60)):
            ax.plot([p[key] / scale for p in pts], [p["running_return"] for p in pts], color=f"C{i}",
                    label=f"seed {run['seed']}")
    finish_figure(fig, axes, ("episodes", "training wall time (min)"), "running mean return (EMA 0.99)",
                  res["target"], f"Pong from pixels, seqrl REINFORCE over seeds ({res['config']}, {res['machine']})",
                  path)


def write_pooled(paths: list[Path], out: Path, note: str) -> int:
    from measure import read_reports, write_results  # beside this script

    reports = read_reports(paths, "--pool")
    res = pooled(reports, [str(p) for p in paths], note)
    write_results(res, out, pooled_markdown)
    plot_pooled(res, reports, out.with_suffix(".png"))
    return 0


def plot(res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from measure import finish_figure  # beside this script

    fig, axes = plt.subplots(1, 3, figsize=(14, 4), sharey=True)
    pts = res["curve"]
    for ax, key in zip(axes, ("episodes", "frames", "seconds")):
        ax.plot([p[key] for p in pts], [p["return"] for p in pts], ".", color="0.8", markersize=2)
        ax.plot([p[key] for p in pts], [p["running_return"] for p in pts], color="C0")
    finish_figure(fig, axes, ("episodes", "environment frames", "training wall time (s)"),
                  "episode return (grey), running mean (EMA 0.99)", TARGET,
                  f"Pong from pixels, seqrl REINFORCE ({res['config']}, {res['machine']})", path, legend=False)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="configs/pong.yaml")
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--quick", action="store_true", help="a smoke test: 1 minute, results beside --run-dir")
    p.add_argument("--run-dir", default="runs/pong-benchmark")
    p.add_argument("--out", help="default benchmarks/results/pong.json (with --pool: pong_seeds.json)")
    p.add_argument("--report-only", action="store_true", help="rewrite the report from the JSON at --out")
    p.add_argument("--pool", nargs="+", type=Path, metavar="JSON",
                   help="one report over several seeds' results files of this script, into --out")
    p.add_argument("--note", default="", help="with --pool: how the runs were made, for the report")
    p.add_argument("overrides", nargs="*", help="section.key=value config overrides")
    args = p.parse_args()
    if args.out is None:
        args.out = "benchmarks/results/" + ("pong_seeds.json" if args.pool else "pong.json")
    if args.pool:
        out = (ROOT / args.out).resolve()
        if out in {f.resolve() for f in args.pool}:
            p.error(f"--out {args.out} is one of the --pool files")
        return write_pooled(args.pool, out, args.note)
    if args.report_only:
        out = (ROOT / args.out).resolve()
        res = json.loads(out.read_text())
        res.update(target=TARGET, reached=passed(res["curve"], TARGET), milestones=milestones(res["curve"]))
        write(res, out)
        return 0
    if args.quick:
        args.minutes = min(args.minutes, 1.0)
    import shutil

    from seqrl.config import load_config, to_dict
    from seqrl.run import jsonl
    from seqrl.sources import make_trainer

    run_dir = (ROOT / args.run_dir).resolve()
    shutil.rmtree(run_dir, ignore_errors=True)  # a fresh run every time
    cfg = load_config(ROOT / args.config, [*args.overrides, f"run.time_limit={args.minutes * 60}",
                                           "optim.steps=100000000", "run.progress=false", "run.eval_every=100000000"])
    summary = make_trainer(cfg, run_dir).fit()
    res = report(curve(list(jsonl.read(run_dir / "metrics.jsonl"))), summary, args, to_dict(cfg))
    out = run_dir / "pong.json" if args.quick else (ROOT / args.out).resolve()
    write(res, out)
    return 0


def write(res: dict[str, Any], out: Path) -> None:
    from measure import write_results  # beside this script

    write_results(res, out, markdown)
    plot(res, out.with_suffix(".png"))


if __name__ == "__main__":
    sys.exit(main())
