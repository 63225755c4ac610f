"""Defaults that depend on the kind of run, declared beside the schema they belong to.

An environment run has no use for the sequence defaults of a few keys (a GRU, the cross-entropy
warm-up, the leave-one-out baseline), and a pretrained Hugging Face model starts with REINFORCE.
Each rule names when it applies and the defaults it gives; a key the config names itself is
never changed. `seqrl config --keys` and the configuration reference show them next to the
schema's own default, so every default is visible in one place.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple


class KindDefaults(NamedTuple):
    when: str  # said in --keys and the docs, e.g. "environment runs"
    applies: Callable[[dict[str, Any]], bool]  # on the raw config data (sections as dicts)
    defaults: dict[str, Any]  # dotted key -> default


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    return value if isinstance(value, dict) else {}


RULES: tuple[KindDefaults, ...] = (
    KindDefaults("environment runs (env.id set)", lambda d: _section(d, "env").get("id") is not None,
                 {"model.kind": "mlp", "curriculum.kind": "reinforce", "reinforce.baseline": "value",
                  "optim.rl_lr": None}),
    KindDefaults("model.kind=hf (a pretrained model starts with REINFORCE)",
                 lambda d: _section(d, "model").get("kind") == "hf", {"curriculum.kind": "reinforce"}),
)


def with_kind_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with the defaults of every rule that applies, where the config does not name the key."""
    out = dict(data)
    for rule in RULES:
        if not rule.applies(data):
            continue
        for key, value in rule.defaults.items():
            section, name = key.split(".")
            current = out.get(section)
            if current is None or isinstance(current, dict):
                if name not in (current or {}):
                    out[section] = {**(current or {}), name: value}
    return out


def notes() -> dict[str, str]:
    """key -> "environment runs (env.id set): 'mlp'; ..." for --keys and the docs."""
    out: dict[str, list[str]] = {}
    for rule in RULES:
        for key, value in rule.defaults.items():
            out.setdefault(key, []).append(f"{rule.when}: {value!r}")
    return {k: "; ".join(v) for k, v in out.items()}
