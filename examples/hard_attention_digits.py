"""Hard attention with seqrl.graph: a recurrent attention model (Mnih et al. 2014, "Recurrent
Models of Visual Attention") that samples where to look, against the same model with soft
attention, on 8x8 digits placed at random in a cluttered 32x32 canvas.

    python examples/hard_attention_digits.py            # both models, 10,000 steps each
    python examples/hard_attention_digits.py --quick    # a few steps: checks that it runs

Canvas: one of scikit-learn's 8x8 digits (shipped inside the wheel) at a random position of a
32x32 canvas, with 6 pieces of clutter (random 4x4 crops of other digits) around it. Training
canvases are drawn afresh every step from 1,500 digits; the test set is 297 held-out digits,
each on one fixed canvas.

The model looks 4 times. A glimpse at location l in [-1, 1]^2 is three 8x8 patches centred on l
(8x8 at full resolution, 16x16 at half, 32x32 at a quarter), encoded with l by a glimpse network;
a GRU core updates its state; after the last glimpse a classifier reads the state. The first
glimpse is at the centre.

- hard: the next location is sampled, l ~ N(mu(h), 0.15^2) (mu = tanh of a linear map of the
  detached state), a score-function node of a seqrl.graph; each canvas is looked at along 4
  sampled paths with a leave-one-out baseline over them (--samples 1: a learned baseline b(h),
  trained by squared error, no gradient into the model); the cost is the classifier's negative
  log-likelihood, which depends on every location. The classifier, core and glimpse network get the pathwise
  gradient, the location network the score function.
- soft: the same networks, but each glimpse after the first is the attention-weighted mean of the
  glimpses at a 5x5 grid of locations (weights a softmax of the state), trained by
  backpropagation alone: 25 glimpses where hard attention takes one.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Independent, Normal

from seqrl.extras import MissingExtra, require
from seqrl.graph import Graph

CANVAS, DIGIT, PATCH, GLIMPSES, HIDDEN, CLUTTER, STD, GRID = 32, 8, 8, 4, 128, 6, 0.15, 5


def digits(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    datasets = require("sklearn.datasets", "graph", "this example (the 8x8 digits ship inside scikit-learn)")
    load_digits = datasets.load_digits

    d = load_digits()
    x = torch.tensor(d.images / 16.0, dtype=torch.float32)  # (1797, 8, 8) in [0, 1]
    y = torch.tensor(d.target)
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    return x[order[:1500]], y[order[:1500]], x[order[1500:]], y[order[1500:]]


def paste(canvas: torch.Tensor, patches: torch.Tensor, ty: torch.Tensor, tx: torch.Tensor) -> None:
    """canvas (B, C, C) <- max(canvas, patches (B, k, k)) with each patch's top-left at (ty, tx) (B,)."""
    k = patches.shape[-1]
    rows = (ty.unsqueeze(1) + torch.arange(k)).unsqueeze(2)  # (B, k, 1)
    cols = (tx.unsqueeze(1) + torch.arange(k)).unsqueeze(1)  # (B, 1, k)
    b = torch.arange(canvas.shape[0]).view(-1, 1, 1)
    canvas[b, rows, cols] = torch.maximum(canvas[b, rows, cols], patches)


def canvases(x: torch.Tensor, pool: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(B, 1, 32, 32): each digit at a random place over clutter cut from random digits of `pool`."""
    b = x.shape[0]
    out = torch.zeros(b, CANVAS, CANVAS)
    for _ in range(CLUTTER):  # a random 4x4 crop of a random digit at a random place
        src = pool[torch.randint(pool.shape[0], (b,), generator=generator)]  # (B, 8, 8)
        sy, sx = torch.randint(0, DIGIT - 4 + 1, (2, b), generator=generator)
        crop = src[torch.arange(b).view(-1, 1, 1), (sy.view(-1, 1) + torch.arange(4)).unsqueeze(2),
                   (sx.view(-1, 1) + torch.arange(4)).unsqueeze(1)]
        paste(out, crop, *torch.randint(0, CANVAS - 4 + 1, (2, b), generator=generator))
    paste(out, x, *torch.randint(0, CANVAS - DIGIT + 1, (2, b), generator=generator))
    return out.unsqueeze(1)


def glimpse(images: torch.Tensor, loc: torch.Tensor) -> torch.Tensor:
    """(N, 3 * 8 * 8): 8x8 samples of the 8x8, 16x16 and 32x32 squares centred on loc (N, 2) in
    images (N, 1, 32, 32): full, half and quarter resolution (the last one sees the whole canvas)."""
    n = images.shape[0]
    patches = []
    for size in (PATCH, 2 * PATCH, 4 * PATCH):
        lin = torch.linspace(-1, 1, PATCH) * (size / CANVAS) * (PATCH - 1) / PATCH
        gy, gx = torch.meshgrid(lin, lin, indexing="ij")
        grid = torch.stack([gx, gy], dim=-1).unsqueeze(0) + loc.view(n, 1, 1, 2)  # (N, 8, 8, 2) as (x, y)
        patches.append(F.grid_sample(images, grid, align_corners=False).flatten(1))
    return torch.cat(patches, dim=1)


class Model(nn.Module):
    def __init__(self, soft: bool) -> None:
        super().__init__()
        self.soft = soft
        self.what = nn.Sequential(nn.Linear(3 * PATCH * PATCH, HIDDEN), nn.ReLU())
        self.where = nn.Sequential(nn.Linear(2, HIDDEN), nn.ReLU())
        self.core = nn.GRUCell(HIDDEN, HIDDEN)
        self.locate = nn.Linear(HIDDEN, GRID * GRID if soft else 2)  # soft: weights over a grid of locations
        self.classify = nn.Linear(HIDDEN, 10)
        self.baseline = nn.Sequential(nn.Linear(HIDDEN, 64), nn.ReLU(), nn.Linear(64, 1))
        grid = torch.linspace(-0.75, 0.75, GRID)
        self.register_buffer("grid", torch.stack(torch.meshgrid(grid, grid, indexing="ij"), -1).view(-1, 2))

    def encode(self, images: torch.Tensor, loc: torch.Tensor) -> torch.Tensor:
        return self.what(glimpse(images, loc)) + self.where(loc)

    def forward(self, images: torch.Tensor, g: Graph | None = None, n: int = 1) -> torch.Tensor:
        """Class logits (B, 10). Hard attention samples its locations as nodes of `g` (without a
        graph: it looks where the location network's mean points); with n > 1 the images are n
        copies of B canvases ((n * B), sample-major) and the baseline is leave-one-out over them."""
        b, k = images.shape[0], self.grid.shape[0]
        h = torch.zeros(b, HIDDEN)
        loc = torch.zeros(b, 2)  # the first glimpse is at the centre
        for t in range(GLIMPSES):
            if self.soft and t > 0:  # the attention-weighted mean of the glimpses at every grid location
                weights = self.locate(h).softmax(-1)  # (B, K)
                feats = self.encode(images.repeat_interleave(k, 0), self.grid.repeat(b, 1)).view(b, k, HIDDEN)
                x = (weights.unsqueeze(-1) * feats).sum(1)
            else:
                x = self.encode(images, loc)
            h = self.core(x, h)
            if not self.soft and t < GLIMPSES - 1:
                mu = torch.tanh(self.locate(h.detach()))
                if g is None:
                    loc = mu.detach()
                else:
                    dist = Independent(Normal(mu.view(n, -1, 2), STD), 1)  # batch (n, B), event 2
                    base = "loo" if n > 1 else (self.baseline, h.detach().view(n, -1, HIDDEN))
                    loc = g.sample(f"l{t}", dist, score=True, baseline=base).view(-1, 2).clamp(-1, 1)
        return self.classify(h)


def accuracy(model: Model, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Test accuracy, hard attention looking where its location network's mean points."""
    was = model.training
    model.eval()
    with torch.no_grad():
        acc = float((model(images).argmax(-1) == labels).float().mean())
    model.train(was)
    return round(acc, 4)


def train(soft: bool, steps: int, seed: int = 0, batch: int = 64, lr: float = 1e-3, samples: int = 1,
          eval_every: int = 0) -> dict:
    """Train one model; `samples` glimpse paths per canvas for hard attention (loo baseline when > 1)."""
    torch.manual_seed(seed)
    train_x, train_y, test_x, test_y = digits(seed)
    test_images = canvases(test_x, test_x, torch.Generator().manual_seed(seed + 1))
    model = Model(soft)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed + 2)
    started, curve, spent = time.perf_counter(), [], 0.0
    for step in range(1, steps + 1):
        idx = torch.randint(train_x.shape[0], (batch,), generator=gen)
        images = canvases(train_x[idx], train_x, gen)
        g = Graph()
        if soft:
            nll = F.cross_entropy(model(images), train_y[idx], reduction="none")  # (B,)
        else:  # `samples` glimpse paths per canvas
            logits = model(images.repeat(samples, 1, 1, 1), g, samples)
            nll = F.cross_entropy(logits, train_y[idx].repeat(samples), reduction="none").view(samples, -1)
        opt.zero_grad()
        if soft:
            nll.mean().backward()
        else:
            g.cost("nll", nll)  # depends on every location sampled before it
            g.backward()  # REINFORCE for the locations, backprop for the rest, the baseline's squared error
        opt.step()
        if eval_every and step % eval_every == 0:  # evaluation time not counted
            clock = time.perf_counter()
            curve.append({"step": step, "seconds": round(clock - started - spent, 1),
                          "test_accuracy": accuracy(model, test_images, test_y)})
            spent += time.perf_counter() - clock
    seconds = time.perf_counter() - started - spent
    return {"attention": "soft" if soft else f"hard ({samples} path{'s' if samples > 1 else ''} per canvas)",
            "steps": steps, "seconds": round(seconds, 1), "test_accuracy": accuracy(model, test_images, test_y),
            "curve": curve}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=10000)
    p.add_argument("--samples", type=int, default=4, help="hard attention: glimpse paths per canvas (loo baseline)")
    p.add_argument("--eval-every", type=int, default=2000, help="steps between test evaluations (not timed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="10 steps per model")
    p.add_argument("--run-dir", help="write results.json here")
    args = p.parse_args()
    torch.set_num_threads(1)
    steps = 10 if args.quick else args.steps
    every = 5 if args.quick else args.eval_every
    rows = [train(soft, steps, args.seed, samples=args.samples, eval_every=every) for soft in (False, True)]
    for r in rows:
        curve = ", ".join(f"{c['step']}: {c['test_accuracy']:.3f} ({c['seconds']:.0f} s)" for c in r["curve"])
        print(f"{r['attention']}: test accuracy {r['test_accuracy']:.3f} after {r['steps']} steps "
              f"({r['seconds']:.0f} s); by step: {curve}")
    if args.run_dir:
        Path(args.run_dir).mkdir(parents=True, exist_ok=True)
        (Path(args.run_dir) / "results.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    try:
        main()
    except MissingExtra as err:  # a missing optional package: one line naming the extra
        raise SystemExit(f"error: {err}") from None
