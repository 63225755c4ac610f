"""Tabular Q-learning on FrozenLake-v1 (4x4, slippery), CliffWalking-v1 and Taxi-v4.

    python benchmarks/tabular_benchmark.py [--quick]

Trains each config (configs/{frozenlake,cliffwalking,taxi}_q.yaml) with `seqrl`'s Trainer, then
plays 1,000 greedy episodes from fresh seeds, and the same 1,000 episodes with the optimal policy
(value iteration on the environment's own transition table), and writes
benchmarks/results/tabular.{json,md}:
FrozenLake's success rate (target >= 0.70; the optimum is about 0.74), CliffWalking's greedy
return (target -13, the optimal path) and Taxi's mean greedy return (target >= 8).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

RUNS = {"FrozenLake-v1": ("configs/frozenlake_q.yaml", "success rate", 0.70),
        "CliffWalking-v1": ("configs/cliffwalking_q.yaml", "greedy return", -13.0),
        "Taxi-v4": ("configs/taxi_q.yaml", "mean greedy return", 8.0)}
GREEDY_EPISODES = 1000


def q_star(cfg: Any, sweeps: int = 5000, tol: float = 1e-10) -> np.ndarray:
    """Q* of the environment's own transition table (`env.unwrapped.P`) by value iteration, with
    the config's discount: the optimal greedy policy to compare the learned one with."""
    from seqrl.envs.make import make_one

    env = make_one(cfg)()
    table, n_s, n_a = env.unwrapped.P, env.observation_space.n, env.action_space.n
    env.close()
    q = np.zeros((n_s, n_a))
    for _ in range(sweeps):
        v = q.max(axis=1)
        new = np.array([[sum(p * (r + (0.0 if done else cfg.env.gamma * v[s2])) for p, s2, r, done in table[s][a])
                         for a in range(n_a)] for s in range(n_s)])
        if np.abs(new - q).max() < tol:
            return new
        q = new
    return q


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a tenth of the steps, results beside --work")
    p.add_argument("--work", default="runs/tabular-benchmark")
    p.add_argument("--out", default="benchmarks/results/tabular.json")
    args = p.parse_args()
    from measure import cpu_model  # beside this script

    from seqrl.config import load_config
    from seqrl.sources import make_trainer

    work = (ROOT / args.work).resolve()
    rows = []
    for env_id, (config, what, target) in RUNS.items():
        cfg = load_config(ROOT / config, ["run.progress=false", "run.trackers=none", "run.threads=1"])
        if args.quick:
            cfg = load_config(ROOT / config, ["run.progress=false", "run.trackers=none", "run.threads=1",
                                              f"optim.steps={max(cfg.optim.steps // 10, 1)}"])
        shutil.rmtree(work / env_id, ignore_errors=True)
        started = time.perf_counter()
        trainer = make_trainer(cfg, work / env_id)
        trainer.fit()
        seconds = time.perf_counter() - started
        returns = trainer.source.play(-4, GREEDY_EPISODES, greedy=True).returns()  # fresh seeds (step -4)
        learned = trainer.source.policy.q.clone()
        trainer.source.policy.q.copy_(torch.as_tensor(q_star(cfg)))  # the optimum, on the same episodes
        best = float(trainer.source.play(-4, GREEDY_EPISODES, greedy=True).returns().mean())
        trainer.source.policy.q.copy_(learned)
        trainer.source.close()
        value = float(returns.mean())
        rows.append({"env": env_id, "config": config, "measure": what, "value": value, "target": target,
                     "met": value >= target, "optimum_same_episodes": best, "env_steps": trainer.state.tokens, "episodes": trainer.state.sequences,
                     "train_seconds": seconds})
        print(rows[-1], flush=True)
    lines = [f"Tabular Q-learning, {cpu_model()} ({os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}; "
             f"greedy policy over {GREEDY_EPISODES} episodes after training.", "",
             "| environment | config | measure | result | optimal policy, same episodes | target | met | training "
             "episodes | env steps | time |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['env']} | `{r['config']}` | {r['measure']} | {r['value']:.3f} | "
                     f"{r['optimum_same_episodes']:.3f} | {r['target']:g} | "
                     f"{'yes' if r['met'] else 'no'} | {r['episodes']:,} | {r['env_steps']:,} | {r['train_seconds']:.0f} s |")
    out = work / "tabular.json" if args.quick else (ROOT / args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "quick": args.quick}, indent=1) + "\n")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
