"""The example configs: each sequence config in configs/ trained once as a user would, its final and best
greedy validation score and its wall time.

    python benchmarks/configs_benchmark.py [--only reverse,sort] [--seed 0] [--quick]
                                           [--work runs/configs-benchmark] [--out benchmarks/results/configs.json]

Each config runs in its own `python -m seqrl train configs/NAME.yaml` process on 1 torch thread
(the configs' own run.threads), with only run.progress=false and --run-dir added (and run.seed when
--seed is not 0). The score is the run's headline metric on its validation set (exact match, or the
success rate of a task without references), greedy, at the last step and at its best validation.
The Multi30k, CartPole, Pong and tabular configs have their own benchmarks and are not run here.
--quick runs 4 steps of each (a smoke test: scores meaningless). The JSON and Markdown are
rewritten after every config, so a cut-short run keeps what it measured.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import child_env, machine, write_results  # noqa: E402 - beside this script

CONFIGS = {  # name: what it shows
    "reverse": "the demo: cross-entropy warm-up, then RLOO",
    "copy": "warm-up then RLOO",
    "sort": "warm-up then RLOO",
    "repeat_copy": "warm-up then RLOO, 1-5 digits, up to 3 repeats",
    "addition": "GRU on 1-3 digit additions",
    "addition_transformer_lm": "decoder-only Transformer on addition",
    "reverse_mixer": "MIXER with the learned per-step baseline",
    "reverse_alternate": "annealed alternation of cross-entropy and REINFORCE",
    "reverse_scst": "self-critical baseline",
    "reverse_lstm": "LSTM attention seq2seq",
    "reverse_transformer": "Transformer encoder-decoder",
    "digit_sum": "REINFORCE from scratch, no reference answer",
}
METRICS = ("exact_match", "success_rate")
QUICK = ["optim.steps=4", "run.eval_every=2", "run.checkpoint_every=2", "curriculum.warmup_steps=2"]


def run_config(name: str, work: Path, seed: int, quick: bool) -> dict[str, Any]:
    """Train configs/NAME.yaml in a child process; its scores, steps and wall time."""
    run_dir = work / name
    if run_dir.exists():
        shutil.rmtree(run_dir)
    overrides = ["run.progress=false", *([f"run.seed={seed}"] if seed else []), *(QUICK if quick else [])]
    cmd = [sys.executable, "-m", "seqrl", "train", f"configs/{name}.yaml", *overrides, "--run-dir", str(run_dir)]
    began = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=child_env(ROOT, 1), capture_output=True, text=True)
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        raise SystemExit(f"configs/{name}.yaml failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    evals = [json.loads(line) for line in (run_dir / "eval.jsonl").read_text().splitlines()]
    metric = next(k for k in METRICS if k in evals[-1])
    best = max(evals, key=lambda r: r[metric])
    return {"name": name, "shows": CONFIGS[name], "overrides": overrides, "metric": metric,
            "final": evals[-1][metric], "final_step": evals[-1]["step"], "best": best[metric],
            "best_step": best["step"], "wall_s": wall}


def markdown(res: dict[str, Any]) -> str:
    env = res["machine"]
    lines = [f"Example configs, each trained once by `seqrl train configs/NAME.yaml` (seed {res['seed']}, 1 torch "
             f"thread, one config at a time); {env['cpu_model']} ({env['cores']} cores; "
             f"{'/'.join(env['isa']) or 'no ISA flags read'}), {env['date']}, mode {res['mode']}. Greedy decoding "
             "on each task's held-out validation inputs: exact match, or the success rate of a task without "
             "references.", "",
             "| config | what it shows | metric | final (step) | best (step) | wall time |", "|---|---|---|---|---|---|"]
    for r in res["rows"]:
        lines.append(f"| `{r['name']}.yaml` | {r['shows']} | {r['metric'].replace('_', ' ')} | {r['final']:.3f} "
                     f"({r['final_step']}) | {r['best']:.3f} ({r['best_step']}) | {r['wall_s']:.0f} s |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help="comma-separated config names (default: all of them)")
    p.add_argument("--seed", type=int, default=0, help="run.seed of every run")
    p.add_argument("--quick", action="store_true", help="4 steps per config (smoke test)")
    p.add_argument("--work", default="runs/configs-benchmark")
    p.add_argument("--out", default="benchmarks/results/configs.json")
    args = p.parse_args()
    names = [n.strip() for n in args.only.split(",")] if args.only else list(CONFIGS)
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        p.error(f"--only: unknown config {unknown[0]!r}; choose from {', '.join(CONFIGS)}")
    work, out = (ROOT / args.work).resolve(), (ROOT / args.out).resolve()
    work.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {"mode": "quick" if args.quick else "full", "seed": args.seed, "machine": machine(),
                           "rows": []}
    for i, name in enumerate(names):
        res["rows"].append(run_config(name, work, args.seed, args.quick))
        write_results(res, out, markdown, echo=i == len(names) - 1)  # a cut-short run keeps what it measured
    return 0


if __name__ == "__main__":
    sys.exit(main())
