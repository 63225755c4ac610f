"""How noisy is a graph's gradient estimate under each baseline, on identical samples?

    spread = measure(lambda r: model.graph(x), list(model.encoder.parameters()),
                     baselines=("none", "ema", "loo"), repeats=20)
    spread["loo"]["total_variance"], spread["loo"]["snr"], spread["loo"]["cosine"]

`build(r)` runs your program once (fresh samples) and returns its Graph; each baseline's
surrogate is differentiated on that same graph (Graph.surrogate(baseline=...)), so the baselines
differ only in what they subtract. The statistics are seqrl.estimators.diagnostics' (the ones
run.diagnostics logs for sequence and environment runs). Nothing is updated: moving averages are
read, not moved, and no optimizer steps.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from torch import Tensor

from seqrl.estimators.diagnostics import flat_grad, gradient_spread
from seqrl.graph.graph import Graph


def measure(build: Callable[[int], Graph], params: Sequence[Tensor], baselines: Sequence[str] = ("none",),
            repeats: int = 8) -> dict[str, dict[str, Any]]:
    """{baseline: {total_variance, snr, cosine, mean_norm, estimates}} over `repeats` graphs."""
    params = [p for p in params if p.requires_grad]
    grads: dict[str, list[Tensor]] = {b: [] for b in baselines}
    for r in range(repeats):
        g = build(r)
        for i, b in enumerate(baselines):
            grads[b].append(flat_grad(g.surrogate(baseline=b), params, retain_graph=i < len(baselines) - 1))
    return {b: gradient_spread(v) for b, v in grads.items()}
