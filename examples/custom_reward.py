"""Train with your own reward function, named in the config as 'module:function'.

    python examples/custom_reward.py                 # reverse, REINFORCE on prefix_reward below
    python examples/custom_reward.py --steps 400
    python examples/custom_reward.py --quick         # a few steps: checks that it runs

A reward function follows the contract

    fn(completions, references, sources, **columns) -> list[float | None]

with one value per completion. `completions`, `references` and `sources` are parallel
lists of token-id lists with no EOS/BOS/PAD (decode them with task.vocab.decode). A None
value means "not applicable to this sample": it is left out of the loss and of every
baseline. A value that is NaN/inf, or a function that raises, stops training with an error
naming the step and the sample (or skips the sample with run.on_bad_reward=skip).

The config names the function as `task.reward: module:function`; the module must be
importable, so this script puts its own folder on sys.path and uses
`task.reward=custom_reward:prefix_reward`. The run's config.yaml keeps that name, so to
evaluate the run later make the module importable again, e.g.
`PYTHONPATH=examples seqrl eval RUN_DIR`.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Optional, Sequence

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def prefix_reward(completions: Sequence[Sequence[int]], references: Sequence[Optional[Sequence[int]]],
                  sources: Sequence[Sequence[int]], **columns: Any) -> list[Optional[float]]:
    """Reverse task, checked against the *input* (no reference needed): the length of the
    correct prefix of the reversed source, divided by the longer of output and answer.

    Unlike the task's partial credit, a token after the first mistake earns nothing, so the
    reward says "get the beginning right first". It is 1.0 exactly when the output is the
    reversed input. Empty inputs are not applicable (None).
    """
    out: list[Optional[float]] = []
    for completion, source in zip(completions, sources):
        answer = list(reversed(source))
        if not answer:
            out.append(None)
            continue
        correct = 0
        for got, want in zip(completion, answer):
            if got != want:
                break
            correct += 1
        out.append(correct / max(len(completion), len(answer)))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(REPO / "configs" / "reverse.yaml"), help="YAML config (a reverse task)")
    p.add_argument("--steps", type=int, help="training steps (default: the config's optim.steps)")
    p.add_argument("--quick", action="store_true", help="tiny budget for smoke tests (4 steps, small validation)")
    p.add_argument("--run-dir", help="run directory (default: runs/custom_reward-<time>)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    args = p.parse_args()

    # The 'module:function' spec is imported by name, so the module's folder must be on sys.path.
    # (Running this file makes it `__main__`; the trainer imports it again as `custom_reward`,
    # which is why everything below is guarded by `if __name__ == "__main__"`.)
    sys.path.insert(0, str(HERE))

    from seqrl.config import load_config
    from seqrl.sources import make_trainer

    overrides = ["task.reward=custom_reward:prefix_reward", f"run.threads={args.threads}", "run.progress=false"]
    if args.quick:
        overrides += ["optim.steps=4", "curriculum.warmup_steps=2", "run.eval_every=2",
                      "task.val_size=16", "optim.batch_size=8"]
    if args.steps is not None:
        overrides.append(f"optim.steps={args.steps}")
    cfg = load_config(args.config, overrides)
    run_dir = Path(args.run_dir or f"runs/custom_reward-{datetime.now():%Y%m%d-%H%M%S}")

    trainer = make_trainer(cfg, run_dir)
    vocab = trainer.source.task.vocab

    # A reward function is plain Python: try it on a few token lists before training.
    src = vocab.encode(list("1234"))
    tries = {"4 3 2 1": vocab.encode(list("4321")), "4 3 9 1": vocab.encode(list("4391")),
             "9 3 2 1": vocab.encode(list("9321")), "4 3 2 1 1": vocab.encode(list("43211"))}
    values = prefix_reward(list(tries.values()), [None] * len(tries), [src] * len(tries))
    print("prefix_reward for input '1 2 3 4':", {k: round(v, 3) for k, v in zip(tries, values)})

    # Cross-entropy warm-up uses the task's references as usual; every REINFORCE step is
    # scored by prefix_reward. Validation still reports the task's exact match.
    summary = trainer.fit()
    print("summary:", json.dumps(summary, indent=2))
    rewards = [json.loads(line).get("reward_mean") for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rewards = [r for r in rewards if r is not None]
    if rewards:
        print(f"mean prefix_reward of the samples: first REINFORCE log {rewards[0]:.3f}, last {rewards[-1]:.3f}")
    print(f"run directory: {run_dir}  (evaluate later with: PYTHONPATH={HERE} seqrl eval {run_dir})")


if __name__ == "__main__":
    main()
