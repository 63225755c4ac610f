"""Combine rewards and build them from short specs such as "0.7*bleu+0.3*chrf".

Spec grammar: one or more terms joined by '+', each term `[weight '*'] name`, where name
is a `TEXT_REWARDS` name or alias (case-insensitive, '_' == '-'; "chrf++" is a name) and
weight is a real number (default 1, may be negative: "bleu+-0.1*length").
"""
from __future__ import annotations

import math
import numbers
import re
from typing import Any, Callable, Optional, Sequence, Union

from seqrl.rewards.text import canonical_name, make_text_reward

RewardFn = Callable[..., list]

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_TERM = re.compile(rf"\s*(?:({_NUMBER})\s*\*\s*)?([A-Za-z][A-Za-z0-9_\-]*(?:\+\+)?)\s*")


class WeightedSum:
    """sum_i weight_i * reward_i(...) per sample; None where any component is None."""

    def __init__(self, components: Sequence[tuple[RewardFn, float]], name: Optional[str] = None) -> None:
        components = list(components)
        if not components:
            raise ValueError("weighted_sum needs at least one (reward, weight) pair")
        for fn, w in components:
            if not callable(fn):
                raise TypeError(f"{fn!r} is not callable")
            if isinstance(w, bool) or not isinstance(w, numbers.Real) or not math.isfinite(w):
                raise ValueError(f"weight {w!r} is not a finite real number")
        self.components = [(fn, float(w)) for fn, w in components]
        self.__name__ = name or "+".join(f"{w:g}*{getattr(fn, '__name__', type(fn).__name__)}" for fn, w in self.components)

    def __call__(self, completions: Sequence[Any], references: Any, sources: Any = None, **columns: Any) -> list[Optional[float]]:
        n = len(completions)
        total: list[Optional[float]] = [0.0] * n
        for fn, w in self.components:
            values = list(fn(completions, references, sources, **columns))
            if len(values) != n:
                raise ValueError(f"{getattr(fn, '__name__', fn)!r} returned {len(values)} values for {n} completions")
            for i, v in enumerate(values):
                t = total[i]
                total[i] = None if v is None or t is None else t + w * float(v)
        return total

    def __repr__(self) -> str:
        return f"WeightedSum({self.components!r})"


def weighted_sum(components: Sequence[tuple[RewardFn, float]], name: Optional[str] = None) -> WeightedSum:
    """Combine `[(reward_fn, weight), ...]` into one reward (None if any component is None for a sample)."""
    return WeightedSum(components, name)


def parse_terms(spec: str) -> list[tuple[float, str]]:
    """`"0.7*bleu+0.3*chrf++"` -> `[(0.7, 'bleu'), (0.3, 'chrf++')]` with canonical names; ValueError if malformed/unknown."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"empty reward spec {spec!r}")
    terms: list[tuple[float, str]] = []
    pos = 0
    while True:
        m = _TERM.match(spec, pos)
        if m is None:
            raise ValueError(f"bad reward spec {spec!r} at position {pos}: expected '[weight*]name'")
        weight = float(m.group(1)) if m.group(1) is not None else 1.0
        if not math.isfinite(weight):
            raise ValueError(f"bad weight {m.group(1)!r} in reward spec {spec!r}")
        terms.append((weight, canonical_name(m.group(2))))
        pos = m.end()
        if pos == len(spec):
            return terms
        if spec[pos] != "+":
            raise ValueError(f"bad reward spec {spec!r} at position {pos}: expected '+' or the end, got {spec[pos]!r}")
        pos += 1


def parse_reward_spec(spec: Union[str, RewardFn]) -> RewardFn:
    """A reward callable from a spec ("bleu", "chrf++", "rouge-l", "0.7*bleu+0.3*chrf"); callables pass through."""
    if callable(spec):
        return spec
    terms = parse_terms(spec)
    if len(terms) == 1 and terms[0][0] == 1.0:
        return make_text_reward(terms[0][1])
    return weighted_sum([(make_text_reward(name), w) for w, name in terms], name=spec.strip())
