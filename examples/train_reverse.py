"""Train the reverse demo through the Python API, then reload the run and evaluate it.

    python examples/train_reverse.py                    # the full demo (about a minute)
    python examples/train_reverse.py --steps 400        # a shorter run
    python examples/train_reverse.py --quick            # a few steps: checks that it runs
    python examples/train_reverse.py --config configs/reverse_transformer.yaml

The same as `seqrl train configs/reverse.yaml`, written out: load a YAML config (plus
`section.key=value` overrides), build a Trainer (seqrl.make_trainer), fit, evaluate.
"""
from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

from seqrl.config import load_config, to_dict
from seqrl.sources import make_trainer, resume

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(REPO / "configs" / "reverse.yaml"), help="YAML config")
    p.add_argument("--steps", type=int, help="training steps (default: the config's optim.steps)")
    p.add_argument("--quick", action="store_true", help="tiny budget for smoke tests (4 steps, small validation)")
    p.add_argument("--run-dir", help="run directory (default: runs/train_reverse-<time>)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: fastest for this small model on a busy machine)")
    p.add_argument("overrides", nargs="*", help="extra section.key=value overrides, e.g. optim.lr=1e-3")
    args = p.parse_args()

    overrides = [f"run.threads={args.threads}", "run.progress=false"]
    if args.quick:
        # Few steps, a small validation set, and at least one REINFORCE step after 2 cross-entropy ones.
        overrides += ["optim.steps=4", "curriculum.warmup_steps=2", "run.eval_every=2",
                      "task.val_size=16", "optim.batch_size=8"]
    if args.steps is not None:
        overrides.append(f"optim.steps={args.steps}")
    cfg = load_config(args.config, overrides + list(args.overrides))
    run_dir = Path(args.run_dir or f"runs/train_reverse-{datetime.now():%Y%m%d-%H%M%S}")

    print(f"config {args.config}: task={cfg.task.name} model={cfg.model.kind} "
          f"curriculum={cfg.curriculum.kind} baseline={cfg.reinforce.baseline} steps={cfg.optim.steps}")
    trainer = make_trainer(cfg, run_dir)
    summary = trainer.fit()  # trains, validates every run.eval_every steps, checkpoints, returns the final metrics
    print("summary:", json.dumps(summary, indent=2))

    # A run directory holds config.yaml, metrics.jsonl, eval.jsonl, summary.jsonl and checkpoints/.
    # seqrl.resume rebuilds the run from it (this is what `seqrl eval RUN_DIR` does).
    reloaded = resume(run_dir)
    metrics = reloaded.evaluate()
    samples = metrics.pop("samples")
    print(f"reloaded step {reloaded.state.step}: " + ", ".join(f"{k}={v:.3f}" for k, v in metrics.items()))
    for s in samples:
        print(f"  {s['source']:>17}  ->  {s['output']:<17}  (reference {s['reference']})")
    print(f"run directory: {run_dir}  (try: seqrl sample {run_dir} --greedy;  seqrl plot {run_dir} -o curves.png)")
    assert to_dict(reloaded.cfg) == to_dict(cfg)


if __name__ == "__main__":
    main()
