"""A stochastic computation graph over your own PyTorch program (Schulman et al. 2015).

    g = Graph()
    z = g.sample("z", Categorical(logits=encoder(x)), n=8)     # (8, B): 8 samples per input
    g.cost("nll", -decoder(z).log_prob(x).sum(-1))              # (8, B)
    g.cost("kl", kl_term(z), depends_on=["z"])
    g.backward()                                                # or loss = g.surrogate()

Sampled nodes are marked with any torch.distributions distribution. A node whose distribution has
`rsample` is reparameterised (the pathwise gradient flows through its sample) unless
`score=True`; other nodes (discrete ones) contribute the score function log p(z), weighted by the
costs that depend on them, minus their baseline. The surrogate is DiCE's objective (graph.dice),
so `torch.autograd.grad(..., create_graph=True)` of it gives unbiased higher-order gradients too.

Dependencies (the paper's rule: a node's weight holds only the costs downstream of it). A node's
`parents` are the nodes its distribution was computed from; a cost's `depends_on` are the nodes it
was computed from; both default to every node sampled before (always correct, possibly
pessimistic). A cost then depends on the nodes it names and all their ancestors. Naming them
exactly lowers the variance (a node never carries a cost it cannot influence) and never adds bias
as long as nothing that influences a cost is left out.

Baselines per node: none, ema (a MovingAverage kept across steps), loo (leave-one-out over the
n samples), or learned: `baseline=(module, inputs)`, a prediction of the node's downstream cost
from inputs that must not depend on the node itself; the module sees them detached and is
trained by `baseline_loss()` (squared error), and the surrogate uses its prediction detached.

Shapes: with `n`, a node's samples have a leading sample dimension (n, *batch). Costs and
log-probabilities (summed over the event dimensions) must broadcast to one common shape, e.g.
(n, B); the surrogate is the mean over it, so its gradient estimates the gradient of the expected
cost per input. Leave-one-out baselines use dimension 0 as the n samples of one input.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch
from torch import Tensor, nn
from torch.distributions import Distribution

from seqrl.graph.dice import dice_objective

BASELINES = ("none", "ema", "loo")


@dataclass
class MovingAverage:
    """The `ema` baseline's state, kept by the caller across steps (one value per node name)."""

    decay: float = 0.9
    values: dict[str, float] = field(default_factory=dict)

    def get(self, name: str) -> float:
        return self.values.get(name, 0.0)

    def update(self, name: str, mean: float) -> None:
        old = self.values.get(name)
        self.values[name] = mean if old is None else self.decay * old + (1.0 - self.decay) * mean


@dataclass
class _Node:
    name: str
    logp: Optional[Tensor]  # None for a pathwise (reparameterised) node
    parents: tuple[str, ...]
    baseline: str
    predicted: Optional[Tensor] = None  # a learned baseline's prediction (with grad into its module only)
    n: Optional[int] = None  # samples on dimension 0 (sample(..., n=...))


Learned = tuple[nn.Module, Tensor]  # a baseline module and the inputs it predicts the node's cost from


@dataclass
class _Cost:
    name: str
    value: Tensor
    reach: frozenset[str]  # the nodes it depends on: those named and their ancestors (fixed once sampled)


class Graph:
    """Sampled nodes and costs of one forward pass; `surrogate()` is the loss to differentiate."""

    def __init__(self, baseline: str = "none", moving_average: Optional[MovingAverage] = None) -> None:
        """`baseline`: the default of every node: none, ema (needs `moving_average`, updated by
        surrogate()) or loo (leave-one-out over the node's n samples)."""
        _check_baseline(baseline, moving_average)
        self.baseline, self.moving_average = baseline, moving_average
        self.nodes: dict[str, _Node] = {}
        self.costs: list[_Cost] = []
        self._averaged = False  # the ema baselines were updated by this graph's first surrogate()

    def sample(self, name: str, dist: Distribution, n: Optional[int] = None, score: Optional[bool] = None,
               parents: Optional[Sequence[str]] = None, baseline: Optional[str | Learned] = None,
               value: Optional[Tensor] = None, mask: Optional[Tensor] = None) -> Tensor:
        """Draw from `dist` ((n, *batch, *event) with n) and record the node. `score`: use the
        score function (default: only when `dist` cannot rsample). `value`: a sample already drawn
        from `dist` elsewhere (e.g. by a policy's own sampler; score function). `mask` (the shape of
        the log-probability): False where the node did not happen (tokens after EOS): log p = 0."""
        if name in self.nodes:
            raise ValueError(f"node {name!r} is sampled twice in this graph")
        if not isinstance(dist, Distribution):
            raise TypeError(f"node {name!r}: expected a torch.distributions.Distribution, got {_what(dist)}")
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
            raise ValueError(f"node {name!r}: n must be a positive int (samples on dimension 0), got {n!r}")
        shape = torch.Size(() if n is None else (n,))
        pathwise = (dist.has_rsample if score is None else not score) and value is None
        if pathwise and not dist.has_rsample:
            raise ValueError(f"node {name!r}: {type(dist).__name__} has no rsample; use score=True")
        if value is None:
            value = dist.rsample(shape) if pathwise else dist.sample(shape)
        logp = None if pathwise else dist.log_prob(value)
        if logp is not None and mask is not None:
            logp = torch.where(mask, logp, torch.zeros_like(logp))
        predicted = None
        if isinstance(baseline, tuple):  # learned: the module sees its inputs detached
            module, inputs = baseline
            predicted, kind = module(inputs.detach()).squeeze(-1), "learned"
        else:
            kind = baseline or self.baseline
            _check_baseline(kind, self.moving_average)
        count = n if n is not None else (logp.shape[0] if logp is not None and logp.dim() else None)
        if kind == "loo" and logp is not None and (count is None or count < 2):
            raise ValueError(f"node {name!r}: the loo baseline compares n >= 2 samples of the node on dimension 0; "
                             f"sample it with n=2 or more (its log-probability has shape "
                             f"{tuple(logp.shape) if logp is not None else ()})")
        self.nodes[name] = _Node(name, logp, self._known(parents, name), kind, predicted, count)
        return value

    def cost(self, name: str, value: Tensor, depends_on: Optional[Sequence[str]] = None) -> None:
        """A cost to minimise (per element; the surrogate averages over its shape). A floating-point
        tensor; keep the sample dimension of the nodes it depends on (average in the surrogate, not
        before: a cost averaged over a loo node's samples gives that node no credit)."""
        if not isinstance(value, Tensor) or not value.is_floating_point():
            raise TypeError(f"cost {name!r}: expected a floating-point tensor (e.g. (n, B)), got {_what(value)}")
        self.costs.append(_Cost(name, value, frozenset(self.ancestors(self._known(depends_on, name)))))

    def _known(self, names: Optional[Sequence[str]], owner: str) -> tuple[str, ...]:
        if names is None:
            return tuple(self.nodes)
        unknown = [n for n in names if n not in self.nodes]
        if unknown:
            raise ValueError(f"{owner!r} names nodes that were not sampled before it: {unknown}")
        return tuple(names)

    def ancestors(self, names: Sequence[str]) -> set[str]:
        """The named nodes and every node they were computed from."""
        seen: set[str] = set()
        todo = list(names)
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(self.nodes[name].parents)
        return seen

    def downstream_cost(self, node: str) -> Tensor:
        """Q_w: the sum of the costs that depend on `node` (0 when none does), detached."""
        parts = [c.value.detach() for c in self.costs if node in c.reach]
        return sum(parts[1:], parts[0]) if parts else torch.zeros(())

    def surrogate(self, baseline: Optional[str] = None) -> Tensor:
        """The DiCE objective: its value is the mean total cost; its gradients of every order are
        unbiased estimates of those of the expected cost. `baseline` overrides every scored node's
        (none, ema, loo, or learned for nodes that have a module) to compare baselines on the same
        samples; with it the moving average is read, not updated (a measurement, not a step)."""
        if not self.costs:
            raise ValueError("the graph has no cost: mark at least one with g.cost(name, tensor)")
        for c in self.costs:
            bad = int((~torch.isfinite(c.value.detach())).sum())
            if bad:
                raise ValueError(f"cost {c.name!r} has {bad} non-finite value(s) (NaN/inf) of {c.value.numel()}")
        if baseline is not None and baseline != "learned":
            _check_baseline(baseline, self.moving_average)
        scored = [(name, node) for name, node in self.nodes.items() if node.logp is not None]
        shape = self._common_shape(scored)
        costs = torch.stack([c.value.expand(shape) for c in self.costs])  # (C, *S)
        if not scored:
            return dice_objective(costs, torch.zeros_like(costs), costs[:0], costs[:0])
        logps = torch.stack([n.logp.expand(shape) for _, n in scored])  # (W, *S)
        # which node each cost depends on: (C, W); one product sums the log-probabilities of every
        # cost's dependencies, its transpose the downstream costs of every node (long chains stay fast)
        member = torch.tensor([[name in c.reach for name, _ in scored] for c in self.costs], dtype=logps.dtype,
                              device=logps.device)
        deps = torch.tensordot(member, logps, dims=1)  # (C, *S)
        downstream = torch.tensordot(member.T, costs.detach(), dims=1)  # (W, *S): Q_w
        kept, bases = [], []
        update = baseline is None and not self._averaged  # the moving averages move once per graph
        for i, (name, node) in enumerate(scored):
            kind = node.baseline if baseline is None else baseline
            if kind == "learned" and node.predicted is None:
                raise ValueError(f"node {name!r} has no learned baseline (sample it with baseline=(module, inputs))")
            if kind == "loo":
                self._check_loo(name, node)
            b = self._baseline(name, kind, downstream[i], update=update)
            if b is not None:
                kept.append(i)
                bases.append(b)
        self._averaged = self._averaged or update
        with_baseline = logps[kept]
        return dice_objective(costs, deps, with_baseline, torch.stack(bases) if bases else with_baseline)

    def _check_loo(self, name: str, node: _Node) -> None:
        """Every cost that depends on a loo node must keep its n samples on dimension 0."""
        n = node.n
        for c in self.costs:
            if name in c.reach and (c.value.dim() == 0 or n is None or c.value.shape[0] != n):
                raise ValueError(f"cost {c.name!r} (shape {tuple(c.value.shape)}) cannot give per-sample credit to node "
                                 f"{name!r} (loo baseline over n={n} samples): keep the sample dimension, e.g. "
                                 f"({n}, B), and let the surrogate average it")

    def _common_shape(self, scored: list) -> torch.Size:
        """The shape every cost and scored log-probability broadcasts to (a named error if none)."""
        try:
            return torch.broadcast_shapes(*[c.value.shape for c in self.costs], *[n.logp.shape for _, n in scored])
        except RuntimeError:
            shapes = [f"cost {c.name!r} {tuple(c.value.shape)}" for c in self.costs]
            shapes += [f"node {name!r} log-prob {tuple(n.logp.shape)}" for name, n in scored]
            raise ValueError("costs and log-probabilities must broadcast to one shape, e.g. (n, B): "
                             + ", ".join(shapes)) from None

    def baseline_loss(self) -> Tensor:
        """The learned baselines' squared error against their nodes' downstream costs (mean per
        node, summed); its gradient reaches the baseline modules only."""
        total = torch.zeros(())
        for name, node in self.nodes.items():
            if node.predicted is not None:
                q = self.downstream_cost(name)
                predicted, target = torch.broadcast_tensors(node.predicted, q)  # e.g. (B,) against (n, B)
                total = total + ((predicted - target) ** 2).mean()
        return total

    def backward(self) -> Tensor:
        """Backward of the surrogate and of the learned baselines' loss; returns the surrogate
        (its value is the mean total cost)."""
        loss = self.surrogate()
        (loss + self.baseline_loss()).backward()
        return loss

    def _baseline(self, name: str, kind: str, q: Tensor, update: bool = True) -> Optional[Tensor]:
        """b_w (detached) for a node whose downstream cost is q; None for no baseline."""
        if kind == "none":
            return None
        if kind == "learned":
            predicted = self.nodes[name].predicted
            assert predicted is not None
            return predicted.detach().expand_as(q)
        if kind == "loo":
            n = q.shape[0]
            if q.dim() == 0 or n < 2:
                raise ValueError(f"node {name!r}: the loo baseline needs n >= 2 samples (dimension 0)")
            return (q.sum(dim=0, keepdim=True) - q) / (n - 1)
        assert self.moving_average is not None
        b = torch.full_like(q, self.moving_average.get(name))
        if update:
            self.moving_average.update(name, float(q.mean()))
        return b


def _what(value: object) -> str:
    """How an argument is named in an error: a tensor by dtype and shape, else by type."""
    if isinstance(value, Tensor):
        return f"a {str(value.dtype).replace('torch.', '')} tensor of shape {tuple(value.shape)}"
    return f"{type(value).__name__} {value!r:.60}"


def _check_baseline(kind: str, moving_average: Optional[MovingAverage]) -> None:
    if kind not in BASELINES:
        raise ValueError(f"baseline {kind!r}: choose one of {', '.join(BASELINES)}")
    if kind == "ema" and moving_average is None:
        raise ValueError("the ema baseline needs a MovingAverage kept across steps (Graph(moving_average=...))")
