"""Settings that used to be accepted and then trained wrongly are config errors before compute,
naming the key and what is allowed; YAML's octal integers are read as the decimals they show."""
from __future__ import annotations

import dataclasses
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqrl.config import Config, ConfigError, load_config

CARTPOLE_DQN = ["env.id=CartPole-v1", "env.algo=dqn"]


@pytest.mark.parametrize("overrides,message", [
    (CARTPOLE_DQN + ["q.tau=0"], r"q.tau=0.0: the target network would never move"),
    (CARTPOLE_DQN + ["q.buffer_size=16", "optim.batch_size=32"], r"q.buffer_size \(16\) < optim.batch_size \(32\)"),
    (["run.stop_at=101"], r"run.stop_at=101.0: the run stops on exact match or success rate \(0 to 1\)"),
    (["run.stop_at=1.5"], r"run.stop_at=1.5"),
    (["task.name=text", "data.train=a", "data.valid=b", "task.reward=bleu", "run.stop_at=100.5"],
     r"run.stop_at=100.5: the run stops on corpus BLEU \(0 to 100\)"),
    (["reinforce.objective=risk", "reinforce.baseline=value"], r"reinforce.baseline='value' is not used by "
     r"reinforce.objective=risk"),
    (["reinforce.objective=risk", "reinforce.samples_per_input=1"], r"risk_candidates=samples has 1 candidate"),
    (["reinforce.objective=risk", "reinforce.risk_candidates=beam", "reinforce.risk_beam=1"], r"has 1 candidate"),
    (["reinforce.objective=risk", "reinforce.risk_candidates=both", "curriculum.kind=mixer"],
     r"beam search does not continue MIXER's forced reference tokens"),
    (["reinforce.objective=risk", "run.diagnostics.every=5"], r"reinforce.objective=risk has none to compare"),
    (["env.id=CartPole-v1", "reinforce.objective=risk", "reinforce.baseline=none"],
     r"reinforce.objective=risk: risk compares candidate outputs of one input"),
])
def test_settings_that_cannot_work_are_refused_by_name(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


def _string_keys() -> list[str]:
    """Every key whose type is a string (or a string or null)."""
    out = []
    for section in dataclasses.fields(Config):
        for f in dataclasses.fields(typing.get_type_hints(Config)[section.name]):
            tp = typing.get_type_hints(typing.get_type_hints(Config)[section.name])[f.name]
            if tp is str or str in typing.get_args(tp):
                out.append(f"{section.name}.{f.name}")
    return out


@settings(max_examples=40, deadline=None)
@given(key=st.sampled_from(_string_keys()), blank=st.sampled_from(['""', "''", '"  "', "' '"]))
def test_an_empty_string_is_refused_for_every_string_key(key, blank):
    with pytest.raises(ConfigError, match=rf"{key}: an empty string; leave the key out or write null"):
        load_config(None, [f"{key}={blank}"])


@settings(max_examples=40, deadline=None)
@given(value=st.integers(1, 10**6), zeros=st.integers(1, 3))
def test_leading_zeros_are_decimal_on_the_command_line_and_in_files(tmp_path_factory, value, zeros):
    text = "0" * zeros + str(value)
    assert load_config(None, [f"optim.steps={text}"]).optim.steps == value
    path = tmp_path_factory.mktemp("c") / "c.yaml"
    path.write_text(f"optim:\n  steps: {text}\n")
    assert load_config(path).optim.steps == value


def test_other_integer_forms_are_yaml_s_own():
    assert load_config(None, ["optim.steps=0x10"]).optim.steps == 16
    assert load_config(None, ["optim.steps=1_000"]).optim.steps == 1000
