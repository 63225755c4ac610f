"""REINFORCE from scratch on a task with no reference answer: digit_sum.

    python examples/digit_sum_from_scratch.py               # configs/digit_sum.yaml (a few minutes)
    python examples/digit_sum_from_scratch.py --steps 1000
    python examples/digit_sum_from_scratch.py --quick       # a few steps: checks that it runs

The input is 'S' and a number t; the policy must write at most 6 digits whose sum is t.
Many outputs are right ('S 1 7' -> '8 9', '9 8', '1 7 9 0', ...), so there is no reference
to imitate: cross-entropy cannot train this, only the reward can (curriculum.kind=reinforce).
This script trains the policy, then shows what it writes for every target t = 1..54,
marking the targets held out for validation (never trained on).
"""
from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

import torch

from seqrl.config import load_config
from seqrl.rollout import strip
from seqrl.tasks import Example, collate
from seqrl.sources import make_trainer

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(REPO / "configs" / "digit_sum.yaml"), help="YAML config")
    p.add_argument("--steps", type=int, help="training steps (default: the config's optim.steps)")
    p.add_argument("--quick", action="store_true", help="tiny budget for smoke tests (4 steps)")
    p.add_argument("--run-dir", help="run directory (default: runs/digit_sum-<time>)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    args = p.parse_args()

    overrides = [f"run.threads={args.threads}", "run.progress=false"]
    if args.quick:
        overrides += ["optim.steps=4", "run.eval_every=2", "optim.batch_size=8"]
    if args.steps is not None:
        overrides.append(f"optim.steps={args.steps}")
    cfg = load_config(args.config, overrides)
    if cfg.curriculum.kind != "reinforce":
        raise SystemExit("digit_sum has no reference answers: it needs curriculum.kind=reinforce")
    run_dir = Path(args.run_dir or f"runs/digit_sum-{datetime.now():%Y%m%d-%H%M%S}")

    trainer = make_trainer(cfg, run_dir)
    task = trainer.source.task
    print(f"task {task.name}: {task.description}; has_reference={task.has_reference}")
    summary = trainer.fit()
    print("summary:", json.dumps(summary, indent=2))

    # Greedy outputs for every target, split into held-out (validation) and trained-on targets.
    vocab = task.vocab
    everything = [Example(source=tuple(vocab.encode(["S"] + list(str(t)))), target=None)
                  for t in range(1, 9 * task.max_digits + 1)]
    held_out = [e for e in everything if e.source in trainer.source.data.val_sources]
    trained = [e for e in everything if e.source not in trainer.source.data.val_sources]
    for name, examples in (("held-out targets", held_out), ("training targets", trained)):
        m = trainer.source.evaluate(examples)
        m.pop("samples")
        print(f"{name} ({len(examples)}): success_rate={m['success_rate']:.3f} reward={m['reward']:.3f}")

    # What the policy writes for the held-out targets (greedy decoding, as in validation).
    shown = held_out or everything[:8]
    trainer.source.policy.eval()
    with torch.no_grad():
        rollout = trainer.source.policy.greedy(collate(shown), trainer.source.max_len)
    for ex, out in zip(shown, strip(rollout.tokens, rollout.mask)):
        digits = vocab.decode(out)
        total = sum(int(d) for d in digits if d.isdigit())
        verdict = "ok" if task.score(out, ex.source) == 1.0 else "wrong"
        print(f"  t={task.goal(ex.source):>2}  ->  {' '.join(digits) or '(empty)':<12} sum={total:>2}  {verdict}")
    print(f"run directory: {run_dir}")


if __name__ == "__main__":
    main()
