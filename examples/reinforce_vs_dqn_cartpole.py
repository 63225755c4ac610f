"""REINFORCE and DQN on CartPole-v1 through the Python API, side by side on one plot.

    python examples/reinforce_vs_dqn_cartpole.py            # both configs as shipped (a few minutes)
    python examples/reinforce_vs_dqn_cartpole.py --quick    # a few steps each: checks that it runs

Needs `pip install -e '.[envs]'`. The same as `seqrl train configs/cartpole.yaml`, then
`seqrl train configs/cartpole_dqn.yaml`, then `seqrl plot` of both runs against environment steps.
"""
from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from seqrl.config import load_config
from seqrl.run.plot import plot_runs
from seqrl.sources import make_trainer

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a few steps per run (a smoke test)")
    p.add_argument("--run-dir", help="where the runs go: RUN_DIR (REINFORCE), RUN_DIR-dqn, RUN_DIR.png "
                                     "(default: runs/cartpole-<time>)")
    args = p.parse_args()
    base = Path(args.run_dir or f"runs/cartpole-{datetime.now():%Y%m%d-%H%M%S}")
    quick = ["optim.steps=3", "run.eval_every=3", "env.eval_episodes=2", "run.checkpoint_every=3"] if args.quick else []
    runs = []
    for config, run_dir in (("cartpole.yaml", base), ("cartpole_dqn.yaml", base.with_name(base.name + "-dqn"))):
        cfg = load_config(REPO / "configs" / config, ["run.progress=false", "run.threads=1", *quick])
        summary = make_trainer(cfg, run_dir).fit()
        print(f"{cfg.env.algo}: step {summary['step']}, greedy return {summary['return_mean']:.1f} "
              f"({summary['train_seconds']:.1f} s)")
        runs.append(run_dir)
    print("plot:", plot_runs(runs, base.with_name(base.name + ".png")))


if __name__ == "__main__":
    main()
