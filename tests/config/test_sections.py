"""A run's config.yaml holds only what its kind of run reads (seqrl.kinds sections, minus the
sequence-only keys for environment runs), it loads back to the same Config, and the defaults that
depend on the kind of run are declared in config.kind_defaults and shown by `seqrl config --keys`."""
from __future__ import annotations

import pytest
import yaml

from seqrl.config import load_config, save_config
from seqrl.config.kind_defaults import notes
from seqrl.config.schema import SEQUENCE_ONLY
from seqrl.config.validate import to_dict

KINDS = {
    "sequence": [],
    "text": ["task.name=text", "data.train=x", "data.valid=y", "task.reward=bleu"],
    "reinforce": ["env.id=CartPole-v1"],
    "a2c": ["env.id=CartPole-v1", "env.algo=a2c"],
    "q_learning": ["env.id=FrozenLake-v1", "env.algo=q_learning"],
    "dqn": ["env.id=CartPole-v1", "env.algo=dqn"],
}
SECTIONS = {
    "sequence": ["task", "model", "reinforce", "curriculum", "optim", "run"],
    "text": ["task", "data", "model", "reinforce", "curriculum", "optim", "run"],
    "reinforce": ["model", "reinforce", "optim", "run", "env"],
    "a2c": ["model", "reinforce", "optim", "run", "env"],
    "q_learning": ["optim", "run", "env", "q"],
    "dqn": ["model", "optim", "run", "env", "q"],
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_config_yaml_holds_only_what_the_run_reads_and_loads_back_the_same(tmp_path, kind):
    cfg = load_config(None, KINDS[kind] + ["optim.lr=0.005", "run.seed=3"])
    save_config(cfg, tmp_path / "config.yaml")
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert list(saved) == SECTIONS[kind]
    if cfg.kind != "sequence":
        for section, keys in SEQUENCE_ONLY.items():
            assert not set(keys) & set(saved.get(section, {})), section
    assert load_config(tmp_path / "config.yaml") == cfg
    assert to_dict(load_config(tmp_path / "config.yaml")) == to_dict(cfg)


def test_kind_defaults_apply_only_where_the_config_is_silent():
    env = load_config(None, ["env.id=CartPole-v1"])
    assert (env.model.kind, env.curriculum.kind, env.reinforce.baseline, env.optim.rl_lr) == ("mlp", "reinforce", "value", None)
    named = load_config(None, ["env.id=CartPole-v1", "reinforce.baseline=ema", "model.kind=cnn"])
    assert (named.model.kind, named.reinforce.baseline) == ("cnn", "ema")
    seq = load_config(None)
    assert (seq.model.kind, seq.curriculum.kind, seq.reinforce.baseline) == ("gru", "warmup", "rloo")
    assert "environment runs" in notes()["model.kind"] and "model.kind=hf" in notes()["curriculum.kind"]


def test_config_keys_shows_the_kind_defaults(capsys):
    from seqrl.cli import main

    assert main(["config", "--keys"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("model.kind\t"))
    assert "'gru'" in row and "environment runs (env.id set): 'mlp'" in row
