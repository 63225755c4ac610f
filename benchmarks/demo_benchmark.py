"""Benchmark of the default demo (reverse task, GRU attention seq2seq, warmup -> REINFORCE/rloo).

    python benchmarks/demo_benchmark.py [--quick] [--out benchmarks/results/demo.json]

Measures, for the default config (`load_config(None)`):

1. sampling throughput of `policy.sample` (no_grad) at 32 inputs x k=8 and 128 inputs x k=8, and greedy
   decoding throughput at 32 and 256 inputs; warm-up calls first, then the mean over repeats;
2. training-step wall time (median) of a cross-entropy step and of a REINFORCE (rloo) step, taken from
   the full demo run's own per-step `step_time` and, separately, from a manual profile of the real
   `train_step` with timers wrapped around its pieces (sample / reward / score / backward / optimizer);
3. peak resident set size (ru_maxrss) of a subprocess that runs the full demo and of one that only
   measures throughput;
4. wall time until validation greedy exact match first reaches 0.95, from one full (not early-stopped)
   run of the default demo, and that run's final exact match.

`--quick` uses tiny repeat counts and skips the full demo run (a smoke test, a few seconds).
Writes JSON to --out and a Markdown table next to it (same name, .md).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from measure import Timers, cpu_flags, cpu_model  # beside this script

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.95
# Run-only overrides of the demo run: they change logging/evaluation frequency, not training.
# (Evaluation is greedy and draws no random numbers, and sampling streams are a function of
# (seed, step), so the trained weights are those of the plain default demo.)
DEMO_OVERRIDES = ["run.progress=false", "run.eval_every=25", "run.log_every=1"]

# repeats: (warm-up, measured) per setting
FULL_REPEATS = {"sample": (3, 20), "sample_large": (2, 10), "greedy": (3, 20), "greedy_large": (2, 10),
                "xent_steps": (5, 30), "reinforce_steps": (3, 30)}
QUICK_REPEATS = {"sample": (1, 2), "sample_large": (1, 2), "greedy": (1, 2), "greedy_large": (1, 2),
                 "xent_steps": (1, 3), "reinforce_steps": (1, 3)}


def rss_mib() -> float:
    """Peak RSS of this process so far, MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ----------------------------------------------------------------------------------------------
# measurements (run inside the process that owns the Trainer)
# ----------------------------------------------------------------------------------------------
def demo_trainer(weights: Optional[str], run_dir: Path):
    from seqrl.config import load_config
    from seqrl.sources import make_trainer, resume

    if weights:
        return resume(weights)
    return make_trainer(load_config(None), run_dir)


def measure_sampling(trainer, repeats: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """Throughput of policy.sample (k=8) and policy.greedy; each call is timed with perf_counter."""
    import torch

    from seqrl.tasks import collate
    from seqrl import seeds

    policy, cfg = trainer.source.policy, trainer.cfg
    k, temp, seed = cfg.reinforce.samples_per_input, cfg.reinforce.temperature, cfg.run.seed
    out: dict[str, Any] = {}

    def run(name: str, inputs: int, kk: Optional[int], rep_key: str) -> None:
        warm, reps = repeats[rep_key]
        times, seqs, toks, steps = [], 0, 0, []
        for i in range(warm + reps):
            batch = collate(trainer.source.data.train_batch(10_000 + i, inputs))
            with torch.no_grad():
                t0 = time.perf_counter()
                if kk is None:
                    rollout = policy.greedy(batch, trainer.source.max_len)
                else:
                    rollout = policy.sample(batch, kk, trainer.source.max_len, temp, seeds.sampling(seed, 10_000 + i))
                dt = time.perf_counter() - t0
            if i >= warm:
                times.append(dt)
                seqs += rollout.tokens.shape[0]
                toks += int(rollout.mask.sum())
                steps.append(rollout.tokens.shape[1])
        total = sum(times)
        out[name] = {
            "inputs": inputs, "k": kk if kk is not None else 1, "warmup": warm, "repeats": reps,
            "seq_per_s": seqs / total, "tok_per_s": toks / total,
            "median_seq_per_s": seqs / reps / statistics.median(times),
            "mean_call_s": total / reps, "median_call_s": statistics.median(times),
            "mean_generated_len": toks / seqs, "mean_decode_steps": sum(steps) / len(steps),
        }

    policy.train()  # as in train_step (dropout is 0 in the demo, so train/eval decode alike)
    run("sample_b32_k8", 32, k, "sample")
    run("sample_b128_k8", 128, k, "sample_large")
    policy.eval()
    run("greedy_b32", 32, None, "greedy")
    run("greedy_b256", 256, None, "greedy_large")
    policy.train()
    return out


def measure_steps(trainer, repeats: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """Median wall time of real `train_step` calls, xent and REINFORCE, with a per-piece profile."""
    import torch

    import seqrl.sequences.step as step_mod
    from seqrl.curriculum import StepPlan
    from seqrl.tasks import collate
    from seqrl.train.state import TrainState

    cfg, ctx = trainer.cfg, trainer.source.ctx
    out: dict[str, Any] = {}
    pieces_all = ["sample", "reward", "score_forward", "backward", "optimizer_step"]
    for mode, plan, key, first in (("xent", StepPlan(False, 0), "xent_steps", 0),
                                   ("reinforce", StepPlan(True, 0), "reinforce_steps", cfg.curriculum.warmup_steps)):
        warm, reps = repeats[key]
        state = TrainState()
        totals: list[float] = []
        per_piece: dict[str, list[float]] = {p: [] for p in pieces_all}
        timers = Timers()
        timers.patch(ctx.policy, "sample", "sample", instance=True)
        timers.patch(ctx.policy, "sample_scored", "sample", instance=True)  # reinforce.scoring=sampling
        timers.patch(ctx.policy, "score", "score_forward", instance=True)
        timers.patch(step_mod, "score_rollout", "reward", instance=False)
        timers.patch(torch.Tensor, "backward", "backward", instance=False)
        timers.patch(ctx.optimizer, "step", "optimizer_step", instance=True)
        try:
            for i in range(warm + reps):
                step = first + i
                examples = trainer.source.data.train_batch(step, cfg.optim.batch_size)
                timers.acc.clear()
                began = time.perf_counter()
                step_mod.train_step(ctx, examples, collate(examples), plan, step, state)
                if i >= warm:
                    totals.append(time.perf_counter() - began)
                    for p in pieces_all:
                        per_piece[p].append(timers.acc.get(p, 0.0))
        finally:
            timers.undo()
        total = sum(totals)
        share = {p: sum(v) / total for p, v in per_piece.items() if sum(v) > 0}
        share["other"] = max(0.0, 1.0 - sum(share.values()))
        out[mode] = {
            "warmup": warm, "repeats": reps,
            "median_s": statistics.median(totals), "mean_s": total / reps,
            "min_s": min(totals), "max_s": max(totals),
            "median_piece_s": {p: statistics.median(v) for p, v in per_piece.items() if sum(v) > 0},
            "share": share,
        }
    return out


class _TimedTrainerMixin:
    """Records a monotonic wall clock (seconds since fit() started) after every validation."""

    eval_clock: list[dict[str, float]]

    def fit(self):  # type: ignore[override]
        self.eval_clock = []
        self._t0 = time.perf_counter()
        return super().fit()  # type: ignore[misc]

    def _validate(self, bar):  # type: ignore[override]
        t_start = time.perf_counter()
        stop = super()._validate(bar)  # type: ignore[misc]
        t_end = time.perf_counter()
        self.eval_clock.append({"step": self.state.step, "wall_s": t_end - self._t0,  # type: ignore[attr-defined]
                                "eval_s": t_end - t_start})
        return stop


# ----------------------------------------------------------------------------------------------
# child processes (each reports its own peak RSS)
# ----------------------------------------------------------------------------------------------
def child_main(args: argparse.Namespace) -> None:
    import torch  # noqa: F401  (imported before the first RSS reading)

    import seqrl.train.trainer  # noqa: F401

    result: dict[str, Any] = {"rss_after_import_mib": rss_mib()}
    if args.child == "throughput":
        repeats = QUICK_REPEATS if args.quick else FULL_REPEATS
        with tempfile.TemporaryDirectory() as tmp:
            trainer = demo_trainer(args.weights, Path(tmp) / "run")
            result["sampling"] = measure_sampling(trainer, repeats)
    elif args.child == "demo":
        from seqrl.config import load_config, to_dict
        from seqrl.run import jsonl
        from seqrl.sources import make_source
        from seqrl.train.trainer import Trainer

        class TimedTrainer(_TimedTrainerMixin, Trainer):
            pass

        cfg = load_config(None, DEMO_OVERRIDES + ([f"run.threads={args.threads}"] if args.threads else [])
                          + ([f"run.seed={args.seed}"] if args.seed is not None else []))
        t0 = time.perf_counter()
        trainer = TimedTrainer(cfg, make_source(cfg, Path(args.run_dir)), args.run_dir)
        build_s = time.perf_counter() - t0
        summary = trainer.fit()
        fit_s = time.perf_counter() - t0 - build_s
        run_dir = Path(args.run_dir)
        evals = list(jsonl.read(run_dir / "eval.jsonl"))
        metrics = list(jsonl.read(run_dir / "metrics.jsonl"))
        result.update(config=to_dict(cfg), build_s=build_s, fit_s=fit_s, summary=summary,
                      eval_clock=trainer.eval_clock,
                      evals=[{"step": e["step"], "exact_match": e.get("exact_match")} for e in evals],
                      step_times=[{"step": r["step"], "mode": r["mode"], "step_time": r["step_time"]} for r in metrics])
    result["peak_rss_mib"] = rss_mib()
    result["threads"] = __import__("torch").get_num_threads()
    Path(args.child_out).write_text(json.dumps(result))


def run_child(kind: str, quick: bool, tmp: Path, weights: Optional[str] = None,
              run_dir: Optional[Path] = None, threads: Optional[int] = None,
              seed: Optional[int] = None) -> dict[str, Any]:
    out = tmp / f"{kind}-{'trained' if weights else 'init'}{'' if seed is None else f'-seed{seed}'}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--child-out", str(out)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    if quick:
        cmd.append("--quick")
    if weights:
        cmd += ["--weights", weights]
    if threads:
        cmd += ["--threads", str(threads)]
    if run_dir:
        cmd += ["--run-dir", str(run_dir)]
    log = tmp / f"{kind}.log"
    with open(log, "w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=str(ROOT))
    if proc.returncode != 0:
        raise RuntimeError(f"child {kind} failed (rc {proc.returncode}):\n{log.read_text()[-4000:]}")
    return json.loads(out.read_text())


# ----------------------------------------------------------------------------------------------
# orchestration
# ----------------------------------------------------------------------------------------------
def environment() -> dict[str, Any]:
    import torch

    cpu = cpu_model()
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=str(ROOT), capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_model": cpu,
        "isa": cpu_flags(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": commit,
        "loadavg_start": list(os.getloadavg()),
    }


def time_to_target(demo: dict[str, Any]) -> dict[str, Any]:
    evals, clock = demo["evals"], {c["step"]: c for c in demo["eval_clock"]}
    steps = demo["step_times"]
    hit = next((e for e in evals if e["exact_match"] is not None and e["exact_match"] >= TARGET), None)
    res: dict[str, Any] = {
        "target_exact_match": TARGET,
        "eval_every": 25,
        "final_step": demo["summary"]["step"],
        "final_exact_match": demo["summary"].get("exact_match"),
        "best_exact_match": max((e["exact_match"] for e in evals if e["exact_match"] is not None), default=None),
        "fit_wall_s": demo["fit_s"],
        "trainer_build_s": demo["build_s"],
        "total_eval_s": sum(c["eval_s"] for c in demo["eval_clock"]),
        "sum_step_time_s": sum(r["step_time"] for r in steps),
        "exact_match_curve": [[e["step"], e["exact_match"]] for e in evals],
    }
    if hit is None:
        res.update(reached=False, step=None, wall_s=None, train_compute_s=None)
    else:
        res.update(reached=True, step=hit["step"], exact_match_at_step=hit["exact_match"],
                   wall_s=clock[hit["step"]]["wall_s"],
                   train_compute_s=sum(r["step_time"] for r in steps if r["step"] <= hit["step"]),
                   reinforce_steps_before=sum(1 for r in steps if r["step"] <= hit["step"] and r["mode"] == "reinforce"))
    return res


def spread(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median, min and max over seeds of the time to the target and the final exact match (the
    median of the time only when every seed reached it)."""
    hit = [r for r in runs if r["reached"]]

    def stats(values: list[float]) -> dict[str, Any]:
        return {"median": statistics.median(values) if values and len(hit) == len(runs) else None,
                "min": min(values, default=None), "max": max(values, default=None)}

    finals = [r["final_exact_match"] for r in runs]
    return {"seeds": [r["seed"] for r in runs], "reached": len(hit), "runs": runs,
            "step": stats([r["step"] for r in hit]), "wall_s": stats([r["wall_s"] for r in hit]),
            "final_exact_match": {"median": statistics.median(finals), "min": min(finals), "max": max(finals)}}


def step_times_from_demo(demo: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in ("xent", "reinforce"):
        t = [r["step_time"] for r in demo["step_times"] if r["mode"] == mode]
        if t:
            out[mode] = {"steps": len(t), "median_s": statistics.median(t), "mean_s": sum(t) / len(t),
                         "total_s": sum(t)}
    return out


METHOD = {
    "sampling": "policy.sample(batch, k=8, max_len, temperature=1.0, generator) under torch.no_grad on training "
                "batches (task.train_batch); warm-up calls, then each call timed with time.perf_counter; "
                "seq_per_s = sequences / summed call time, tok_per_s = generated tokens (mask, EOS included) / "
                "summed call time. Decoding stops once every row has emitted EOS or at the max_len budget "
                "(mean_decode_steps records how many steps the measured calls ran). Greedy = policy.greedy "
                "(k=1) in eval mode.",
    "train_step": "'from_demo_run': per-step step_time (measured by the Trainer's loop around the source's step) of every "
                  "step of the full demo run (run.log_every=1). 'profile': the real train_step called in a loop "
                  "with perf_counter wrappers on policy.sample and policy.sample_scored (sample; the latter keeps "
                  "the graph the loss differentiates, reinforce.scoring), train.step.score_rollout (reward), "
                  "policy.score (score_forward: teacher-forced forward pass, cross-entropy steps and rescoring), torch.Tensor.backward (backward) "
                  "and optimizer.step (optimizer_step); 'other' = advantages, loss, grad clipping, bookkeeping. "
                  "Shares are of the summed step_time of the measured steps.",
    "memory": "resource.getrusage(RUSAGE_SELF).ru_maxrss at the end of a child process (Linux: KiB -> MiB): "
              "one child runs the full demo (Trainer(...).fit(), incl. evaluation and checkpoints), one only "
              "builds the Trainer and runs the sampling/greedy throughput measurement at initial weights. "
              "rss_after_import = the same right after importing torch and seqrl.",
    "time_to_target": "One in-process run of the full default demo (800 steps, no run.stop_at) with run-only "
                      "overrides " + " ".join(DEMO_OVERRIDES) + " (logging/eval frequency only; evaluation is "
                      "greedy and draws no random numbers, so training is that of the plain demo). A Trainer "
                      "subclass reads time.perf_counter after each validation; wall_s = seconds from fit() start "
                      "to the end of the first validation with exact_match >= 0.95 (training, evaluations every "
                      "25 steps, checkpoints and logging included). train_compute_s = sum of per-step step_time "
                      "up to that step (training steps only). Resolution is the 25-step eval interval.",
}


def fmt(x: Optional[float], unit: str = "", digits: int = 1) -> str:
    if x is None:
        return "n/a"
    return f"{x:,.{digits}f}{unit}"


def markdown(res: dict[str, Any]) -> str:
    env, cfg = res["environment"], res["config"]
    lines = [
        "# Default demo benchmark",
        "",
        f"Mode: **{res['mode']}**. {env['date']}, torch {env['torch_version']} ({env['torch_threads']} threads"
        f"{', torch default' if not env.get('threads_option') else ', set by --threads'}), "
        f"{env['cpu_model']} ({env['cpus_usable']} usable CPUs, load average at start "
        f"{env['loadavg_start'][0]:.2f}, at end {env['loadavg_end'][0]:.2f}), commit {env['git_commit']}.",
        "",
        f"Config: task {cfg['task']['name']} (lengths {cfg['task']['train_min_len']}-{cfg['task']['train_max_len']}, "
        f"{cfg['task']['symbols']} symbols), model {cfg['model']['kind']} (embed {cfg['model']['embed_dim']}, "
        f"hidden {cfg['model']['hidden_dim']}), curriculum {cfg['curriculum']['kind']} "
        f"({cfg['curriculum']['warmup_steps']} cross-entropy steps), baseline {cfg['reinforce']['baseline']}, "
        f"k={cfg['reinforce']['samples_per_input']}, batch {cfg['optim']['batch_size']}, {cfg['optim']['steps']} steps.",
        "",
        "| Metric | Value |",
        "|---|---|",
    ]
    for label, key in (("initial weights", "init"), ("trained weights", "trained")):
        s = res["sampling"].get(key)
        if not s:
            continue
        for name, title in (("sample_b32_k8", "Sampling 32 inputs x k=8"), ("sample_b128_k8", "Sampling 128 inputs x k=8"),
                            ("greedy_b32", "Greedy 32 inputs"), ("greedy_b256", "Greedy 256 inputs")):
            r = s[name]
            lines.append(f"| {title}, {label} | {fmt(r['seq_per_s'], ' seq/s', 0)}, {fmt(r['tok_per_s'], ' tok/s', 0)} "
                         f"({fmt(r['mean_call_s'] * 1000, ' ms', 1)}/call, mean length {r['mean_generated_len']:.1f}, "
                         f"{r['mean_decode_steps']:.0f} decode steps) |")
    demo_steps = res["train_step"].get("from_demo_run") or {}
    for mode, title in (("xent", "Cross-entropy step (median, demo run)"), ("reinforce", "REINFORCE rloo step (median, demo run)")):
        if mode in demo_steps:
            lines.append(f"| {title} | {fmt(demo_steps[mode]['median_s'] * 1000, ' ms')} ({demo_steps[mode]['steps']} steps) |")
    prof = res["train_step"]["profile"]
    w = prof["weights"]
    lines.append(f"| Cross-entropy step (median, profile, {w} weights) | {fmt(prof['xent']['median_s'] * 1000, ' ms')} |")
    rl = prof["reinforce"]
    share = ", ".join(f"{k} {v:.0%}" for k, v in rl["share"].items())
    lines.append(f"| REINFORCE rloo step (median, profile, {w} weights) | {fmt(rl['median_s'] * 1000, ' ms')} ({share}) |")
    mem = res["memory"]
    lines.append(f"| Peak RSS, full demo process | {fmt(mem['full_demo_peak_rss_mib'], ' MiB')} |")
    lines.append(f"| Peak RSS, throughput-only process | {fmt(mem['throughput_only_peak_rss_mib'], ' MiB')} |")
    lines.append(f"| RSS after importing torch + seqrl | {fmt(mem['rss_after_import_mib'], ' MiB')} |")
    ttt = res["time_to_target"]
    if ttt.get("skipped"):
        lines.append("| Time to 0.95 validation exact match | skipped (--quick) |")
    else:
        if ttt["reached"]:
            lines.append(f"| Time to 0.95 validation exact match | step {ttt['step']}, {fmt(ttt['wall_s'], ' s')} wall "
                         f"({fmt(ttt['train_compute_s'], ' s')} in training steps) |")
        else:
            lines.append("| Time to 0.95 validation exact match | not reached |")
        lines.append(f"| Final validation exact match (step {ttt['final_step']}) | {fmt(ttt['final_exact_match'], '', 4)} |")
        lines.append(f"| Full demo wall time (fit) | {fmt(ttt['fit_wall_s'], ' s')} |")
    sp = res.get("seed_spread")
    if sp:
        seeds = f"seeds {sp['seeds'][0]}-{sp['seeds'][-1]}, not tuned on"
        lines.append(f"| Time to 0.95 over {len(sp['seeds'])} more runs ({seeds}) | reached {sp['reached']}/"
                     f"{len(sp['seeds'])}; step median {fmt(sp['step']['median'], '', 0)} "
                     f"[{fmt(sp['step']['min'], '', 0)}, {fmt(sp['step']['max'], '', 0)}], wall median "
                     f"{fmt(sp['wall_s']['median'], ' s')} [{fmt(sp['wall_s']['min'], ' s')}, "
                     f"{fmt(sp['wall_s']['max'], ' s')}] |")
        f = sp["final_exact_match"]
        lines.append(f"| Final exact match over those runs | median {f['median']:.4f} [{f['min']:.4f}, {f['max']:.4f}] |")
    lines += ["", "Method:", ""]
    lines += [f"- **{k}**: {v}" for k, v in res["method"].items()]
    lines.append("")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny repeat counts, no full demo run (smoke test)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "demo.json"))
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads for every process (default: torch's default, as the demo)")
    ap.add_argument("--spread-seeds", type=int, default=5,
                    help="further full demo runs, on seeds --first-seed onwards, for the spread of the time to 0.95")
    ap.add_argument("--first-seed", type=int, default=100,
                    help="first seed of the spread (the demo's settings were chosen on seed 0)")
    ap.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child", choices=["throughput", "demo"], help=argparse.SUPPRESS)
    ap.add_argument("--child-out", help=argparse.SUPPRESS)
    ap.add_argument("--weights", help=argparse.SUPPRESS)
    ap.add_argument("--run-dir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.child:
        child_main(args)
        return 0

    from seqrl.config import load_config, to_dict

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    env = environment()
    env["threads_option"] = args.threads
    repeats = QUICK_REPEATS if args.quick else FULL_REPEATS
    res: dict[str, Any] = {"mode": "quick" if args.quick else "full", "environment": env,
                           "config": to_dict(load_config(None)), "method": METHOD}
    with tempfile.TemporaryDirectory(prefix="seqrl-bench-") as tmp_s:
        tmp = Path(tmp_s)
        demo_dir = tmp / "demo-run"
        demo = None
        if not args.quick:
            print("running the full default demo (a few minutes)...", file=sys.stderr)
            demo = run_child("demo", False, tmp, run_dir=demo_dir, threads=args.threads)
            res["demo_config"] = demo["config"]
        print("measuring throughput (initial weights)...", file=sys.stderr)
        thr = run_child("throughput", args.quick, tmp, threads=args.threads)
        res["sampling"] = {"init": thr["sampling"]}
        env["child_threads"] = thr["threads"]
        if demo is not None:
            print("measuring throughput (trained weights)...", file=sys.stderr)
            res["sampling"]["trained"] = run_child("throughput", False, tmp, weights=str(demo_dir), threads=args.threads)["sampling"]
        print("profiling training steps...", file=sys.stderr)
        trainer = demo_trainer(str(demo_dir) if demo is not None else None, tmp / "profile-run")
        profile = measure_steps(trainer, repeats)
        profile["weights"] = "trained" if demo is not None else "initial"
        res["train_step"] = {"profile": profile}
        if demo is not None:
            res["train_step"]["from_demo_run"] = step_times_from_demo(demo)
        res["memory"] = {
            "full_demo_peak_rss_mib": demo["peak_rss_mib"] if demo else None,
            "throughput_only_peak_rss_mib": thr["peak_rss_mib"],
            "rss_after_import_mib": thr["rss_after_import_mib"],
        }
        res["time_to_target"] = time_to_target(demo) if demo is not None else {"skipped": True}
        if demo is not None and args.spread_seeds:
            runs = []
            for seed in range(args.first_seed, args.first_seed + args.spread_seeds):
                print(f"full demo, seed {seed}...", file=sys.stderr)
                one = run_child("demo", False, tmp, run_dir=tmp / f"demo-seed{seed}", threads=args.threads, seed=seed)
                t = time_to_target(one)
                runs.append({"seed": seed, **{k: t[k] for k in ("reached", "step", "wall_s", "final_exact_match")}})
            res["seed_spread"] = spread(runs)
    env["loadavg_end"] = list(os.getloadavg())
    out.write_text(json.dumps(res, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
