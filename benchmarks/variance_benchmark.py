"""How noisy is each baseline's gradient? M gradient estimates on the same inputs with fresh
samples, every baseline on the same samples (what `run.diagnostics` and `seqrl.graph.measure`
log): total variance (trace of the covariance) relative to none, SNR and mean cosine with the mean.

    python benchmarks/variance_benchmark.py [--repeats 20] [--quick]

Three sources, one estimator: the reverse task (a GRU after 300 cross-entropy steps; 32 inputs x
8 samples), CartPole-v1 (the initial MLP policy, 16 episodes per estimate from the same start
states, advantages not standardised: standardising per batch subtracts the batch mean, which
cancels any constant baseline) and the discrete VAE of examples/discrete_vae_digits.py (after 300
steps with a learned baseline, 4 samples per digit). The value function / learned baseline and
the moving average are first fitted on other samples with the policy frozen; measuring updates
nothing. Writes benchmarks/results/variance.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "examples"))

SEQUENCE = ("none", "ema", "value", "self_critical", "rloo", "grpo")


def rows_of(source: str, spreads: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"source": source, "baseline": b, **{k: s[k] for k in ("total_variance", "snr", "cosine")}}
            for b, s in spreads.items()]


def sequence_rows(repeats: int, quick: bool, work: Path) -> list[dict[str, Any]]:
    from seqrl.config import load_config
    from seqrl.curriculum import StepPlan
    from seqrl.estimators.diagnostics import gradient_spread
    from seqrl.tasks import collate
    from seqrl.sequences.step import _reinforce_loss
    from seqrl.sources import make_trainer
    from seqrl.vocab import specials_of

    warm = 20 if quick else 300
    base = ["run.progress=false", "run.threads=1", "run.trackers=none", "optim.batch_size=32",
            "reinforce.samples_per_input=8", "run.eval_every=100000", "run.checkpoint_every=100000"]
    pre = make_trainer(load_config(ROOT / "configs/reverse.yaml", base + ["curriculum.kind=xent", f"optim.steps={warm}"]),
                  work / "reverse-warm")
    pre.fit()
    t = make_trainer(load_config(ROOT / "configs/reverse.yaml", base + ["reinforce.baseline=value"]), work / "reverse")
    t.source.policy.load_state_dict(pre.source.policy.state_dict())
    for i in range(10 if quick else 100):  # fit V and the moving average on other inputs; the policy stays
        examples = t.source.data.train_batch(10_000 + i, 32)
        _reinforce_loss(t.source.ctx, examples, collate(examples, specials_of(t.source.task)), StepPlan(True, 0, 0), 10_000 + i,
                        t.state, {})
    estimates = t.source.gradient_estimates(20_000, t.state, SEQUENCE, repeats)
    t.release()
    return rows_of("reverse (GRU)", {b: gradient_spread(g) for b, g in estimates.items()})


def cartpole_rows(repeats: int) -> list[dict[str, Any]]:
    from seqrl.config import load_config
    from seqrl.envs.reinforce import reinforce_update
    from seqrl.envs.reinforce_source import ReinforceSource
    from seqrl.train.distributed import World
    from seqrl.estimators.diagnostics import gradient_spread
    from seqrl.train.state import TrainState

    cfg = load_config(ROOT / "configs/cartpole.yaml", ["reinforce.baseline=value", "optim.grad_clip=0",
                                                       "env.standardize_returns=false",  # else a constant baseline cancels
                                                       "env.episodes_per_step=16"])
    torch.manual_seed(0)
    source = ReinforceSource(cfg, World(), Path("."))
    state = TrainState()
    frozen = torch.optim.SGD(source.policy.parameters(), lr=0.0)
    for i in range(20):  # fit V(s) and the moving average on other episodes; the policy stays
        reinforce_update(cfg, source.policy, frozen, source.value_head, source.value_optimizer,
                         lambda i=i: source.play(1000 + i, 16, greedy=False), 1000 + i, state)
    estimates = source.gradient_estimates(2000, state, ("none", "ema", "value"), repeats)
    source.close()
    return rows_of("CartPole-v1 (MLP)", {b: gradient_spread(g) for b, g in estimates.items()})


def vae_rows(repeats: int, quick: bool) -> list[dict[str, Any]]:
    import discrete_vae_digits as vae  # examples/
    from seqrl.graph import MovingAverage, measure

    f = vae.fit("learned", 20 if quick else 300)
    model, learned, x = f["model"], f["learned"], f["test_x"][:100]
    with torch.no_grad():  # the moving average of the cost, as training with ema would have it
        ema = MovingAverage(values={"z": -sum(model.elbo(x, 4) for _ in range(10)) / 10})
    spreads = measure(lambda r: model.graph(x, "learned", ema, learned), list(model.encoder.parameters()),
                      baselines=("none", "ema", "learned", "loo"), repeats=repeats)
    return rows_of("discrete VAE (digits)", spreads)


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
    lines = [f"{args.repeats} gradient estimates on the same inputs, every baseline on the same samples: total "
             "variance (trace of the covariance), relative to no baseline; SNR = |mean| / sqrt(total variance); "
             f"cosine of single estimates with their mean. {time.strftime('%Y-%m-%d')}, "
             f"{time.perf_counter() - started:.0f} s.", "",
             "| source | baseline | total variance | relative to none | SNR | cosine |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['source']} | {r['baseline']} | {r['total_variance']:.4g} | {r['relative_to_none']:.3f} | "
              f"{r['snr']:.3f} | {r['cosine']:.3f} |" for r in rows]
    out = work / "variance.json" if args.quick else (ROOT / args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "repeats": args.repeats, "quick": args.quick}, indent=1) + "\n")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
