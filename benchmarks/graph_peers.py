"""seqrl.graph against storchastic and Pyro's TraceGraph_ELBO on the same discrete VAE.

    python benchmarks/graph_peers.py [--budget 60] [--quick]

One model (examples/discrete_vae_digits.py: 32 Bernoulli latents, a learned prior, 64-128-32
encoder and 32-128-64 decoder, tanh), one data set (scikit-learn's 8x8 digits binarised, 1,500
train / 297 held out), the same minibatches (100 digits, the same random order for everyone), the
same optimiser (Adam 1e-3) and the same wall-clock budget per run, one torch thread each, one run
at a time. Only the gradient estimator differs:

- seqrl.graph: score function for the encoder, 4 samples per digit, leave-one-out baseline (the
  same estimator as storchastic's row: on the same weights and seed both give the same
  gradients), and with 8 samples per digit (what its speed buys in the same time);
- storchastic: `ScoreFunction("z", n_samples=4, baseline_factory="batch_average")` (its
  leave-one-out baseline, the multi-sample form its docs recommend for the score function);
- Pyro: `TraceGraph_ELBO(num_particles=4, vectorize_particles=True)` with the guide site's
  baseline as its docs recommend: a neural baseline (the same 64-64-1 net seqrl's learned
  baseline uses) and, as a second row, the decaying average (beta 0.9).

Reported per estimator: steps done in the budget, held-out ELBO (nats per digit; the same
estimator for every model: 100 samples of q per digit), and the total variance of the encoder
gradient over 20 re-estimates on one fixed held-out batch of 100 digits, each estimator's own.
storchastic is AGPL-licensed: it is installed as a package for this benchmark only (`pip install
storchastic pyro-ppl`), never imported by seqrl. Writes benchmarks/results/graph_peers.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.distributions import Bernoulli, Independent

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "examples"))

import discrete_vae_digits as vae  # noqa: E402

BATCH, LR, SAMPLES, REPEATS = 100, 1e-3, 4, 20


def baseline_net() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))


def seqrl_estimator(model: vae.VAE, samples: int = SAMPLES) -> tuple[Callable[[torch.Tensor], None], list]:
    def step(x: torch.Tensor) -> None:
        model.graph(x, "loo", None, None, samples).backward()
    return step, []


def storch_estimator(model: vae.VAE) -> tuple[Callable[[torch.Tensor], None], list]:
    import storch
    from storch.method import ScoreFunction

    method = ScoreFunction("z", n_samples=SAMPLES, baseline_factory="batch_average")

    def step(x: torch.Tensor) -> None:
        storch.reset()
        xs = storch.denote_independent(x, 0, "data")
        q = Independent(Bernoulli(logits=model.encoder(xs)), 1)
        z = method(q)
        log_lik = Independent(Bernoulli(logits=model.decoder(z)), 1).log_prob(xs)
        log_prior = Independent(Bernoulli(logits=model.prior.expand(vae.LATENTS)), 1).log_prob(z)
        storch.add_cost(-(log_lik + log_prior - q.log_prob(z)), "-elbo")
        storch.backward()
    return step, list(method.parameters())


def pyro_estimator(model: vae.VAE, baseline: str) -> tuple[Callable[[torch.Tensor], None], list]:
    import pyro
    import pyro.distributions as dist
    from pyro.infer import TraceGraph_ELBO

    pyro.clear_param_store()
    net = _ParticleBaseline(baseline_net()) if baseline == "nn" else None
    elbo = TraceGraph_ELBO(num_particles=SAMPLES, vectorize_particles=True, max_plate_nesting=1)

    def p(x: torch.Tensor) -> None:
        with pyro.plate("data", x.shape[0]), pyro.poutine.scale(scale=1.0 / x.shape[0]):
            logits = model.prior.expand(x.shape[0], vae.LATENTS)
            z = pyro.sample("z", dist.Bernoulli(logits=logits).to_event(1))
            pyro.sample("x", dist.Bernoulli(logits=model.decoder(z)).to_event(1), obs=x)

    def q(x: torch.Tensor) -> None:
        with pyro.plate("data", x.shape[0]), pyro.poutine.scale(scale=1.0 / x.shape[0]):
            options = ({"nn_baseline": net, "nn_baseline_input": x} if net is not None
                       else {"use_decaying_avg_baseline": True, "baseline_beta": 0.9})
            pyro.sample("z", dist.Bernoulli(logits=model.encoder(x)).to_event(1), infer={"baseline": options})

    def step(x: torch.Tensor) -> None:
        elbo.loss_and_grads(p, q, x)
    return step, list(net.parameters()) if net is not None else []


class _ParticleBaseline(nn.Module):
    """The baseline net's (B,) prediction for every one of the vectorised particles: (S, B)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1).expand(SAMPLES, x.shape[0])


PEERS: dict[str, Callable[[vae.VAE], tuple[Callable[[torch.Tensor], None], list]]] = {
    "seqrl.graph (loo)": seqrl_estimator,
    "seqrl.graph (loo, 8 samples)": lambda m: seqrl_estimator(m, 8),
    "storchastic ScoreFunction (batch_average)": storch_estimator,
    "Pyro TraceGraph_ELBO (nn_baseline)": lambda m: pyro_estimator(m, "nn"),
    "Pyro TraceGraph_ELBO (decaying average)": lambda m: pyro_estimator(m, "avg"),
}


def encoder_variance(model: vae.VAE, step: Callable[[torch.Tensor], None], x: torch.Tensor) -> float:
    from seqrl.estimators.diagnostics import gradient_spread

    params = list(model.encoder.parameters())
    grads = []
    for _ in range(REPEATS):
        for prm in model.parameters():
            prm.grad = None
        step(x)
        grads.append(torch.cat([prm.grad.flatten().clone() for prm in params]))
    return gradient_spread(grads)["total_variance"]


@torch.no_grad()
def heldout_elbo(model: vae.VAE, x: torch.Tensor, samples: int = 100) -> float:
    return sum(model.elbo(x, 10) for _ in range(samples // 10)) / (samples // 10)


def run(name: str, budget: float, every: float, seed: int = 0) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Train for `budget` seconds of training time, evaluating every `every` seconds (not counted);
    the row and the weights of the best validation evaluation (early stopping)."""
    torch.manual_seed(seed)
    train_x, heldout = vae.digits(seed)
    valid_x, test_x = heldout[: len(heldout) // 2], heldout[len(heldout) // 2 :]
    model = vae.VAE()
    step, extra = PEERS[name](model)
    opt = torch.optim.Adam(list(model.parameters()) + extra, lr=LR)
    order = torch.Generator().manual_seed(seed)
    steps, trained, curve, best = 0, 0.0, [], (-float("inf"), {})
    while trained < budget:
        started = time.perf_counter()
        while time.perf_counter() - started < min(every, budget - trained):
            idx = torch.randint(train_x.shape[0], (BATCH,), generator=order)
            opt.zero_grad()
            step(train_x[idx])
            opt.step()
            steps += 1
        trained += time.perf_counter() - started
        with torch.random.fork_rng():
            torch.manual_seed(seed + 1)
            point = {"seconds": round(trained, 1), "steps": steps, "valid_elbo": round(heldout_elbo(model, valid_x), 3),
                     "test_elbo": round(heldout_elbo(model, test_x), 3)}
        curve.append(point)
        if point["valid_elbo"] > best[0]:
            best = (point["valid_elbo"], {k: v.detach().clone() for k, v in model.state_dict().items()})
    chosen = max(curve, key=lambda c: c["valid_elbo"])
    torch.manual_seed(seed + 2)
    row = {"estimator": name, "steps": steps, "seconds": round(trained, 1), "steps_per_s": round(steps / trained, 1),
           "test_elbo_final": curve[-1]["test_elbo"], "test_elbo_early_stopped": chosen["test_elbo"],
           "early_stopped_at": {"seconds": chosen["seconds"], "steps": chosen["steps"]}, "curve": curve,
           "encoder_grad_variance_own_weights": encoder_variance(model, step, test_x[:BATCH])}
    return row, best[1]


def variance_at(weights: dict[str, torch.Tensor], name: str, fit_steps: int, seed: int = 0) -> float:
    """The encoder gradient variance of estimator `name` at fixed model weights, after fitting its
    own baseline state (Pyro's neural baseline / decaying average) to them for `fit_steps` steps."""
    torch.manual_seed(seed)
    train_x, heldout = vae.digits(seed)
    test_x = heldout[len(heldout) // 2 :]
    model = vae.VAE()
    model.load_state_dict(weights)
    step, extra = PEERS[name](model)
    opt = torch.optim.Adam(extra, lr=LR) if extra else None
    for _ in range(fit_steps if name.startswith("Pyro") else 0):  # the model stays; the baseline learns
        for prm in list(model.parameters()) + extra:
            prm.grad = None
        step(train_x[torch.randint(train_x.shape[0], (BATCH,))])
        if opt is not None:
            opt.step()
    return encoder_variance(model, step, test_x[:BATCH])


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "torch": torch.__version__}
    for pkg in ("storchastic", "pyro-ppl"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", type=float, default=60.0, help="wall-clock seconds of training per estimator")
    p.add_argument("--every", type=float, default=5.0, help="seconds of training between held-out evaluations")
    p.add_argument("--seeds", type=int, default=1, help="also train seeds 1..N-1 (other splits, inits and samples)")
    p.add_argument("--quick", action="store_true", help="2 s each, results beside --out in a scratch file")
    p.add_argument("--out", default=str(ROOT / "benchmarks/results/graph_peers.json"))
    args = p.parse_args()
    torch.set_num_threads(1)
    budget = 2.0 if args.quick else args.budget
    missing = [k for k, v in versions().items() if v == "not installed"]
    if missing:
        print(f"graph_peers: install the peers first: pip install {' '.join(missing)}", file=sys.stderr)
        return 2
    every = 1.0 if args.quick else args.every
    runs = [run(name, budget, every) for name in PEERS]
    rows = [r for r, _ in runs]
    fit = 20 if args.quick else 300
    peers = [r for r in rows if not r["estimator"].startswith("seqrl")]
    for row in rows:  # every estimator on every run's final weights: the same parameters for all
        row["encoder_grad_variance_shared"] = {other: variance_at(w, row["estimator"], fit) for other, (_, w) in
                                               zip(PEERS, runs)}
    names = list(PEERS)
    marks = sorted({c["seconds"] for c in rows[0]["curve"]})
    at = lambda r, t: min(r["curve"], key=lambda c: abs(c["seconds"] - t))["test_elbo"]  # noqa: E731
    shown = [m for m in marks if m in (marks[0], marks[-1]) or round(m) in (10, 20, 30, 40)]
    lines = [f"Discrete VAE on the 8x8 digits, {budget:.0f} s of training per estimator (one thread; evaluations "
             f"every {every:.0f} s not counted), {time.strftime('%Y-%m-%d')}; "
             f"{', '.join(f'{k} {v}' for k, v in versions().items())}. Held-out ELBO in nats per digit on 148 test "
             "digits (100 samples of q each); early stopped: at the evaluation with the best ELBO on the other 149 "
             "held-out digits.", "",
             "| estimator | steps/s | " + " | ".join(f"test ELBO at {m:.0f} s" for m in shown)
             + " | early stopped (at s) | encoder gradient variance at its own final weights |",
             "|---|---|" + "---|" * len(shown) + "---|---|"]
    lines += [f"| {r['estimator']} | {r['steps_per_s']} | " + " | ".join(f"{at(r, m):.2f}" for m in shown)
              + f" | {r['test_elbo_early_stopped']:.2f} ({r['early_stopped_at']['seconds']:.0f}) | "
              f"{r['encoder_grad_variance_own_weights']:.4g} |" for r in rows]
    lines += ["", f"Encoder gradient variance ({REPEATS} re-estimates on 100 test digits) of each estimator (rows) at the "
              f"same weights: each run's early-stopped weights (columns); Pyro's baselines first fitted {fit} steps "
              "to them.", "",
              "| estimator | " + " | ".join(f"weights of {n}" for n in names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {r['estimator']} | " + " | ".join(f"{r['encoder_grad_variance_shared'][n]:.4g}" for n in names) + " |"
              for r in rows]
    best_peer = max(r["test_elbo_early_stopped"] for r in peers)
    for mine in (r for r in rows if r["estimator"].startswith("seqrl")):
        ratios = [mine["encoder_grad_variance_shared"][n] / min(r["encoder_grad_variance_shared"][n] for r in peers)
                  for n in names]
        lines += ["", f"{mine['estimator']}: early-stopped test ELBO minus the better peer's "
                  f"{mine['test_elbo_early_stopped'] - best_peer:+.2f} nats; gradient variance at the same weights / "
                  f"the lowest peer's: {', '.join(f'{x:.3g}' for x in ratios)}."]
    more = [run(name, budget, every, seed)[0] | {"seed": seed} for seed in range(1, args.seeds) for name in PEERS]
    if more:
        seeds = list(range(args.seeds))
        by = {n: [r for r in rows if r["estimator"] == n] + [r for r in more if r["estimator"] == n] for n in names}
        mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
        lines += ["", f"Seeds {', '.join(map(str, seeds))} (each its own split, initialisation and samples): test ELBO "
                  "at equal training time (mean over seeds) and early stopped (each seed).", "",
                  "| estimator | " + " | ".join(f"mean at {m:.0f} s" for m in shown) + " | early stopped, per seed | "
                  "mean early stopped |", "|---|" + "---|" * len(shown) + "---|---|"]
        lines += [f"| {n} | " + " | ".join(f"{mean([at(r, m) for r in rs]):.2f}" for m in shown) + " | "
                  + ", ".join(f"{r['test_elbo_early_stopped']:.2f}" for r in rs)
                  + f" | {mean([r['test_elbo_early_stopped'] for r in rs]):.2f} |" for n, rs in by.items()]
    out = Path(args.out)
    if args.quick:
        out = out.with_name("graph_peers_quick.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from measure import machine  # beside this script

    out.write_text(json.dumps({"rows": rows, "more_seeds": more, "budget_s": budget, "versions": versions(),
                               "environment": machine(), "batch": BATCH,
                               "lr": LR, "samples": SAMPLES, "variance_repeats": REPEATS}, indent=1) + "\n")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
