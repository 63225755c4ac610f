"""The registry of kinds of run: every entry names a source that exists and follows the protocol,
and the config, `seqrl list` and the sources read the registry (no other list of algorithms)."""
from __future__ import annotations

import importlib
import typing

import pytest

from seqrl.config import ConfigError, EnvConfig, load_config
from seqrl.kinds import ENV_ALGOS, KINDS, SEQUENCE, kind_of
from seqrl.train.source import Source

PROTOCOL = [name for name in dir(Source) if not name.startswith("_")]


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_names_a_source_that_follows_the_protocol(name):
    if KINDS[name].extra == "envs":
        pytest.importorskip("gymnasium")
    module, _, cls = KINDS[name].source.partition(":")
    source = getattr(importlib.import_module(module), cls)
    missing = [m for m in PROTOCOL if m not in ("world",) and not hasattr(source, m)]
    assert not missing, f"{name}: {source.__name__} lacks {missing}"


def test_the_config_takes_exactly_the_registry_s_algorithms():
    assert typing.get_args(typing.get_type_hints(EnvConfig)["algo"]) == ENV_ALGOS
    assert SEQUENCE not in ENV_ALGOS and kind_of(None, "dqn") == SEQUENCE and kind_of("CartPole-v1", "dqn") == "dqn"
    with pytest.raises(ConfigError, match="env.algo"):
        load_config(None, ["env.id=CartPole-v1", "env.algo=ppo"])


def test_seqrl_list_shows_every_algorithm(capsys):
    from seqrl.cli import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ENV_ALGOS)
