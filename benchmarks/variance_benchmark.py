"""How noisy is each baseline's gradient? The total variance (trace of the covariance) of M
gradient estimates on the same inputs with fresh samples, for every baseline, relative to none.

    python benchmarks/variance_benchmark.py [--repeats 20] [--quick]

Three sources, one estimator: the reverse task (a GRU after 300 cross-entropy steps, the same
weights for every baseline; 32 inputs x 8 samples), CartPole-v1 (the initial MLP policy, 16
episodes per estimate, advantages not standardised: standardising per batch subtracts the batch
mean, which cancels any constant baseline) and the discrete VAE of examples/discrete_vae_digits.py (after 300 steps,
4 samples per digit). Nothing is updated while measuring: estimates go through an optimizer of
step size 0, and learned baselines are first fitted on other samples. Writes
benchmarks/results/variance.{json,md}.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "examples"))


def total_variance(grads: list[torch.Tensor]) -> float:
    return float(torch.stack(grads).var(0).sum())


def sequence_rows(repeats: int, quick: bool, work: Path) -> list[dict[str, Any]]:
    from seqrl.config import load_config
    from seqrl.curriculum import StepPlan
    from seqrl.tasks import collate
    from seqrl.train.step import _reinforce_loss
    from seqrl.train.trainer import Trainer
    from seqrl.vocab import specials_of

    warm = 20 if quick else 300
    base = ["run.progress=false", "run.threads=1", "run.trackers=none", "optim.batch_size=32",
            "reinforce.samples_per_input=8", "run.eval_every=100000", "run.checkpoint_every=100000"]
    pre = Trainer(load_config(ROOT / "configs/reverse.yaml", base + ["curriculum.kind=xent", f"optim.steps={warm}"]),
                  work / "reverse-warm")
    pre.fit()
    weights = copy.deepcopy(pre.policy.state_dict())
    rows = []
    for baseline in ("none", "ema", "value", "self_critical", "rloo", "grpo"):
        t = Trainer(load_config(ROOT / "configs/reverse.yaml", base + [f"reinforce.baseline={baseline}"]),
                    work / f"reverse-{baseline}")
        t.policy.load_state_dict(weights)
        examples = t.data.train_batch(0, 32)
        batch = collate(examples, specials_of(t.task))
        plan = StepPlan(True, 0, 0)
        params = [p for p in t.policy.parameters() if p.requires_grad]
        fit_steps = 0 if baseline not in ("value", "ema") else (10 if quick else 100)
        for i in range(fit_steps):  # the learned / moving-average baselines see other samples first
            _reinforce_loss(t.ctx, t.data.train_batch(i + 1, 32), collate(t.data.train_batch(i + 1, 32),
                            specials_of(t.task)), plan, 10_000 + i, t.state, {})
        value_weights = copy.deepcopy(t.value_head.state_dict()) if t.value_head is not None else None
        grads = []
        for r in range(repeats):
            state = copy.deepcopy(t.state)
            loss = _reinforce_loss(t.ctx, examples, batch, plan, 20_000 + r, state, {})
            grads.append(torch.cat([g.flatten() for g in torch.autograd.grad(loss, params)]))
            if value_weights is not None:
                t.value_head.load_state_dict(value_weights)
        rows.append({"source": "reverse (GRU)", "baseline": baseline, "total_variance": total_variance(grads)})
        t.release()
    return rows


def cartpole_rows(repeats: int) -> list[dict[str, Any]]:
    from seqrl.config import load_config
    from seqrl.envs.reinforce import reinforce_update
    from seqrl.envs.source import EnvSource
    from seqrl.train.state import TrainState

    rows = []
    for baseline in ("none", "ema", "value"):
        cfg = load_config(ROOT / "configs/cartpole.yaml", [f"reinforce.baseline={baseline}", "optim.grad_clip=0",
                                                           "env.standardize_returns=false",  # else a constant baseline cancels
                                                           "env.episodes_per_step=16"])
        torch.manual_seed(0)
        source = EnvSource(cfg, torch.device("cpu"))
        state = TrainState()
        fit = torch.optim.SGD(source.policy.parameters(), lr=0.0)
        for i in range(20 if baseline != "none" else 0):  # fit V(s) / the moving average on other episodes
            reinforce_update(cfg, source.policy, fit, source.value_head, source.value_optimizer,
                             lambda i=i: source.play(1000 + i, 16, greedy=False), 1000 + i, state)
        frozen_value = torch.optim.SGD(source.value_head.parameters(), lr=0.0) if source.value_head else None
        grads = []
        for r in range(repeats):
            reinforce_update(cfg, source.policy, fit, source.value_head, frozen_value,
                             lambda r=r: source.play(2000 + r, 16, greedy=False), 2000 + r, copy.deepcopy(state))
            grads.append(torch.cat([p.grad.flatten().clone() for p in source.policy.parameters()]))
        rows.append({"source": "CartPole-v1 (MLP)", "baseline": baseline, "total_variance": total_variance(grads)})
        source.close()
    return rows


def vae_rows(repeats: int, quick: bool) -> list[dict[str, Any]]:
    import discrete_vae_digits as vae  # examples/

    rows = []
    for baseline in ("none", "ema", "learned", "loo"):
        res = vae.train(baseline, 20 if quick else 300, repeats=repeats)  # on a fixed held-out batch at the end
        rows.append({"source": "discrete VAE (digits)", "baseline": baseline,
                     "total_variance": res["encoder_grad_variance"]})
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--quick", action="store_true", help="short warm-ups, results beside --work")
    p.add_argument("--work", default="runs/variance-benchmark")
    p.add_argument("--out", default="benchmarks/results/variance.json")
    args = p.parse_args()
    torch.set_num_threads(1)
    work = (ROOT / args.work).resolve()
    import shutil

    shutil.rmtree(work, ignore_errors=True)  # fresh runs every time
    started = time.perf_counter()
    rows = sequence_rows(args.repeats, args.quick, work) + cartpole_rows(args.repeats) + vae_rows(args.repeats, args.quick)
    for r in rows:
        none = next(x for x in rows if x["source"] == r["source"] and x["baseline"] == "none")
        r["relative_to_none"] = r["total_variance"] / none["total_variance"]
    lines = [f"Total variance of {args.repeats} gradient estimates on the same inputs (trace of the covariance), "
             f"relative to no baseline; {time.strftime('%Y-%m-%d')}, {time.perf_counter() - started:.0f} s.", "",
             "| source | baseline | total variance | relative to none |", "|---|---|---|---|"]
    lines += [f"| {r['source']} | {r['baseline']} | {r['total_variance']:.4g} | {r['relative_to_none']:.3f} |" for r in rows]
    out = work / "variance.json" if args.quick else (ROOT / args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "repeats": args.repeats, "quick": args.quick}, indent=1) + "\n")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
