"""CartPole-v1 side by side: seqrl REINFORCE, A2C and DQN against Stable-Baselines3 A2C and PPO.

    python benchmarks/cartpole_benchmark.py [--seeds 5] [--first-seed 200] [--runners seqrl_reinforce,...] [--quick]
    python benchmarks/cartpole_benchmark.py --pool A.json B.json ... --out POOLED.json   # one report over seed sets

Every run (one process each, 1 torch thread) trains until the mean return of its last 100
training episodes reaches 475 (CartPole-v1's threshold) or its budget ends, and records the
environment steps and training wall time at that point; then the final greedy return over 100
episodes. SB3 runs use the rl-baselines3-zoo hyperparameters for CartPole-v1 (written into the
results); seqrl runs use configs/cartpole.yaml and configs/cartpole_dqn.yaml, without their greedy
validations: every runner is judged by the same rule on its training episodes. Results go to
benchmarks/results/cartpole.{json,md,png}: medians and spread over seeds, and the curves of the
last-100 mean return against environment steps and wall time for every run.

Seeds: the configs were set on seeds 0-24 (TUNED_ON); the report runs seeds --first-seed onwards
(default 200), which no setting was chosen on, and says so in the results. (Seeds 100-104 were the
reporting seeds of the previous settings: having seen them, the next report moved to fresh ones.)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

THRESHOLD, WINDOW, GREEDY_EPISODES = 475.0, 100, 100
TUNED_ON = ("configs/cartpole.yaml was set on seeds 0-24 (gamma and value_lr on 10-14, checked on 0-9; the width "
            "of 128 chosen on 0-14 among widths, learning rates and schedules, checked on 15-24), A2C's gae_lambda on "
            "seed 0, configs/cartpole_dqn.yaml on seeds 10-19 (5-step double DQN, 8 environments, one update of 1,024 per "
            "8 env steps, Adam 2e-3, 10k exploration steps); SB3 runs use the zoo's settings")
RUNNERS = ("seqrl_reinforce", "seqrl_a2c", "sb3_ppo", "sb3_a2c", "seqrl_dqn")
BUDGET_STEPS = {"seqrl_reinforce": 300_000, "seqrl_a2c": 500_000, "sb3_ppo": 100_000, "sb3_a2c": 500_000,
                "seqrl_dqn": 100_000}
SEQRL_CONFIGS = {"seqrl_reinforce": "configs/cartpole.yaml", "seqrl_a2c": "configs/cartpole.yaml",
                 "seqrl_dqn": "configs/cartpole_dqn.yaml"}
# A2C: REINFORCE's config with the critic's GAE advantages, at the gamma, critic learning rate and width
# its gae_lambda was chosen with (REINFORCE's were retuned later, without A2C)
SEQRL_OVERRIDES = {"seqrl_a2c": ["env.algo=a2c", "env.gamma=0.99", "reinforce.value_lr=0.01", "model.hidden_dim=64"]}
# rl-baselines3-zoo, hyperparams/{ppo,a2c}.yml, CartPole-v1 (lin_X: linear decay from X to 0)
ZOO = {"sb3_ppo": {"n_envs": 8, "n_timesteps": 100_000, "policy": "MlpPolicy", "n_steps": 32, "batch_size": 256,
                   "gae_lambda": 0.8, "gamma": 0.98, "n_epochs": 20, "ent_coef": 0.0, "learning_rate": "lin_0.001",
                   "clip_range": "lin_0.2"},
       "sb3_a2c": {"n_envs": 8, "n_timesteps": 500_000, "policy": "MlpPolicy", "ent_coef": 0.0}}


class Episodes:
    """Episode ends as they come: (env steps so far, wall seconds, return); `reached` once the
    mean of the last WINDOW returns is at least THRESHOLD."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []
        self.reached: dict[str, float] | None = None

    def add(self, steps: int, seconds: float, ret: float) -> bool:
        last = [r["return"] for r in self.rows[-(WINDOW - 1):]] + [ret]
        mean = sum(last) / len(last)
        self.rows.append({"steps": steps, "seconds": seconds, "return": ret, "mean100": mean})
        if self.reached is None and len(last) == WINDOW and mean >= THRESHOLD:
            self.reached = {"steps": steps, "seconds": seconds, "episodes": len(self.rows)}
        return self.reached is not None


class Reached(Exception):
    pass


def run_seqrl(name: str, seed: int, work: Path, quick: bool) -> dict[str, Any]:
    import shutil

    from seqrl.config import load_config
    from seqrl.sources import make_trainer

    run_dir = work / f"{name}-{seed}"
    shutil.rmtree(run_dir, ignore_errors=True)
    budget = BUDGET_STEPS[name] // (20 if quick else 1)
    overrides = [f"run.seed={seed}", "run.progress=false", "run.threads=1", "run.trackers=none",
                 "run.checkpoint_every=100000000", "optim.steps=100000000"]
    overrides += SEQRL_OVERRIDES.get(name, [])
    overrides += ["run.eval_every=100000000", "run.stop_at=null"]  # no validation: the training episodes decide
    cfg = load_config(ROOT / SEQRL_CONFIGS[name], overrides)
    trainer = make_trainer(cfg, run_dir)
    episodes = Episodes()
    real = trainer.source.train_step

    def step(s: int, state: Any) -> dict[str, Any]:
        began = time.perf_counter()
        m = real(s, state)
        seconds = state.seconds + time.perf_counter() - began  # training time so far, this step included
        done = False
        for r in m["episode_returns"]:  # the step's episodes, credited at the step's end
            done = episodes.add(m["env_steps_total"], seconds, r) or done
        if done or m["env_steps_total"] >= budget:
            raise Reached
        return m

    trainer.source.train_step = step
    try:
        trainer.fit()
        stopped_by = "run.stop_at (greedy validation)" if trainer.state.stopped_early else "optim.steps"
    except Reached:
        stopped_by = "threshold or budget"
    greedy = trainer.source.play(-3, GREEDY_EPISODES, greedy=True).returns()  # fresh seeds (step -3)
    trainer.source.close()
    return {"episodes": episodes.rows, "reached": episodes.reached, "greedy_return": float(greedy.mean()),
            "stopped_by": stopped_by, "env_steps": trainer.state.tokens, "train_seconds": trainer.state.seconds}


def schedule(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("lin_"):
        start = float(value[4:])
        return lambda progress: progress * start  # SB3: progress_remaining from 1 to 0
    return value


def run_sb3(name: str, seed: int, quick: bool) -> dict[str, Any]:
    from stable_baselines3 import A2C, PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    hp = dict(ZOO[name])
    n_envs, steps = hp.pop("n_envs"), hp.pop("n_timesteps") // (20 if quick else 1)
    policy = hp.pop("policy")
    env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=seed)
    algo = PPO if name == "sb3_ppo" else A2C
    model = algo(policy, env, seed=seed, device="cpu", verbose=0, **{k: schedule(v) for k, v in hp.items()})
    episodes, started = Episodes(), [0.0]

    class Track(BaseCallback):
        def _on_training_start(self) -> None:
            started[0] = time.perf_counter()

        def _on_step(self) -> bool:
            now = time.perf_counter() - started[0]
            done = False
            for info in self.locals["infos"]:
                if "episode" in info:
                    done = episodes.add(self.num_timesteps, now, float(info["episode"]["r"])) or done
            return not done

    model.learn(total_timesteps=steps, callback=Track())
    trained = time.perf_counter() - started[0]
    mean, _ = evaluate_policy(model, make_vec_env("CartPole-v1", n_envs=1, seed=seed + 1000),
                              n_eval_episodes=GREEDY_EPISODES, deterministic=True)
    return {"episodes": episodes.rows, "reached": episodes.reached, "greedy_return": float(mean),
            "stopped_by": "threshold" if episodes.reached else "budget", "env_steps": model.num_timesteps,
            "train_seconds": trained}


def child(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(1)
    name, seed = args.child, args.seed
    res = run_seqrl(name, seed, Path(args.work), args.quick) if name.startswith("seqrl") else run_sb3(name, seed, args.quick)
    (Path(args.work) / f"{name}-{seed}.json").write_text(json.dumps({**res, "seed": seed}))
    return 0


def summarise(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    reached = [r["reached"] for r in runs if r["reached"]]

    def spread(key: str) -> dict[str, Any]:
        values = sorted(x[key] for x in reached)
        return {"median": statistics.median(values) if len(reached) == len(runs) else None,
                "min": values[0] if values else None, "max": values[-1] if values else None, "all": values}

    return {"runner": name, "runs": len(runs), "reached": len(reached), "steps": spread("steps"),
            "seconds": spread("seconds"),
            "greedy_return_median": statistics.median(r["greedy_return"] for r in runs),
            "greedy_return_min": min(r["greedy_return"] for r in runs),
            "played_steps_median": statistics.median(r["env_steps"] for r in runs),
            # the last episode's end: training time without the greedy evaluation after it
            "played_seconds_median": statistics.median(r["episodes"][-1]["seconds"] for r in runs),
            "stopped_by": sorted({r["stopped_by"] for r in runs})}


def markdown(report: dict[str, Any]) -> str:
    def fmt(v: Any, unit: str = "") -> str:
        return "-" if v is None else f"{v:,.0f}{unit}"

    seeds = report.get("seed_list") or []
    which = f" ({', '.join(map(str, seeds))})" if seeds and None not in seeds else ""
    tuned = f" Tuning: {report['tuned_on']}." if report.get("tuned_on") else ""
    lines = [f"CartPole-v1, {report['seeds']} seeds per runner{which}, {report['machine']}, {report['date']}; every run "
             "1 torch thread, trained until the mean return of its last 100 training episodes reached 475 (or its "
             f"budget ended); then 100 greedy episodes.{tuned}", "",
             "| runner | reached 475 | median env steps (min to max) | median wall time (min to max) | greedy return, "
             "median (min) | stopped by | env steps played, time (medians) |",
             "|---|---|---|---|---|---|---|"]
    for r in report["summary"]:
        s, t = r["steps"], r["seconds"]
        lines.append(f"| {r['runner']} | {r['reached']}/{r['runs']} | {fmt(s['median'])} ({fmt(s['min'])} to {fmt(s['max'])}) "
                     f"| {fmt(t['median'], ' s')} ({fmt(t['min'], ' s')} to {fmt(t['max'], ' s')}) "
                     f"| {r['greedy_return_median']:.1f} ({r['greedy_return_min']:.1f}) | {', '.join(r['stopped_by'])} "
                     f"| {r['played_steps_median']:,.0f}, {r['played_seconds_median']:.0f} s |")
    lines += ["", "A median is shown only when every seed reached 475 (min and max are over the seeds that did)."]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], results: dict[str, list[dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from measure import finish_figure  # beside this script

    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for i, (name, runs) in enumerate(results.items()):
        for j, run in enumerate(runs):
            rows = run["episodes"]
            for ax, key in zip(axes, ("steps", "seconds")):
                ax.plot([r[key] for r in rows], [r["mean100"] for r in rows], color=f"C{i}", lw=0.8,
                        label=name if j == 0 else None)
    finish_figure(fig, axes, ("environment steps", "training wall time (s)"),
                  "mean return of the last 100 training episodes", THRESHOLD,
                  f"CartPole-v1: seqrl vs Stable-Baselines3 ({report['machine']})", path)


def pooled(reports: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """One report over the seeds of several: each runner that every report ran, its runs in the reports'
    order. Refuses reports from different machine types or with a seed twice."""
    machines = {r["machine"] for r in reports}
    if len(machines) > 1:
        raise SystemExit(f"--pool: the files come from different machines ({', '.join(sorted(machines))}); "
                         "environment steps are exact only per CPU type")
    runners = [n for n in reports[0]["runs"] if all(n in r["runs"] for r in reports)]
    if not runners:
        raise SystemExit("--pool: no runner ran in every file")
    results = {n: [run for r in reports for run in r["runs"][n]] for n in runners}
    seeds = [run["seed"] for run in results[runners[0]]]
    if len(set(seeds)) != len(seeds):
        raise SystemExit(f"--pool: a seed appears twice ({seeds})")
    return {**{k: reports[0][k] for k in ("tuned_on", "machine", "isa", "threshold", "window", "settings")},
            "seeds": len(seeds), "seed_list": seeds, "date": ", ".join(dict.fromkeys(r["date"] for r in reports)),
            "pooled_from": names, "summary": [summarise(n, r) for n, r in results.items()], "runs": results}


def write_pooled(paths: list[Path], out: Path) -> int:
    from measure import read_reports  # beside this script

    report = pooled(read_reports(paths, "--pool"), [str(p) for p in paths])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    plot(report, report["runs"], out.with_suffix(".png"))
    print(markdown(report))
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=200, help="seeds first..first+seeds-1 (200: none tuned on)")
    p.add_argument("--runners", default=",".join(RUNNERS))
    p.add_argument("--quick", action="store_true", help="budgets / 20, results beside --work")
    p.add_argument("--work", default="runs/cartpole-benchmark")
    p.add_argument("--out", default="benchmarks/results/cartpole.json")
    p.add_argument("--report-only", action="store_true", help="rewrite the report from the runs in --out")
    p.add_argument("--pool", nargs="+", type=Path, metavar="JSON",
                   help="one report over the seeds of several results files of this script (the runners all of them "
                        "ran; same machine type), into --out")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)
    from measure import cpu_flags, cpu_model  # beside this script

    work = (ROOT / args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}", "OMP_NUM_THREADS": "1"}
    results: dict[str, list[dict[str, Any]]] = {}
    out = work / "cartpole.json" if args.quick else (ROOT / args.out).resolve()
    if args.pool:
        return write_pooled(args.pool, out)
    if args.report_only:  # the runs of an earlier report, summarised again
        results = json.loads(out.read_text())["runs"]
    for name in [] if args.report_only else args.runners.split(","):
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--seed", str(seed), "--work",
                   str(work)] + (["--quick"] if args.quick else [])
            print("$", " ".join(cmd), flush=True)
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"{name} seed {seed} failed:\n{proc.stderr[-4000:]}")
            results.setdefault(name, []).append(json.loads((work / f"{name}-{seed}.json").read_text()))
            print("  reached:", results[name][-1]["reached"], "greedy:", results[name][-1]["greedy_return"], flush=True)
    try:
        from importlib.metadata import version

        sb3_version = version("stable-baselines3")
    except Exception:  # noqa: BLE001 - not installed: only seqrl runners ran
        sb3_version = None
    first = next(iter(results.values()))
    report = {"seeds": len(first), "seed_list": [r.get("seed") for r in first], "tuned_on": TUNED_ON,
              "machine": f"{cpu_model()} ({os.cpu_count()} cores)", "isa": cpu_flags(),
              "date": time.strftime("%Y-%m-%d"), "threshold": THRESHOLD, "window": WINDOW,
              "summary": [summarise(n, r) for n, r in results.items()],
              "settings": {"sb3_version": sb3_version, "zoo": ZOO, "budget_steps": BUDGET_STEPS,
                           "seqrl_configs": {k: (ROOT / v).read_text() for k, v in SEQRL_CONFIGS.items()},
                           "seqrl_overrides": SEQRL_OVERRIDES,
                           "torch_threads": 1, "quick": args.quick},
              "runs": results}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    plot(report, results, out.with_suffix(".png"))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
