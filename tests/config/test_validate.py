import pytest

from seqrl.config import Config, ConfigError, from_dict, load_config, to_dict


def test_defaults_are_the_demo():
    cfg = load_config()
    assert cfg.task.name == "reverse" and cfg.curriculum.kind == "warmup" and cfg.reinforce.baseline == "rloo"


def test_round_trip_through_dict():
    cfg = load_config(None, ["optim.lr=1e-3", "reinforce.baseline=grpo"])
    assert from_dict(Config, to_dict(cfg)) == cfg


@pytest.mark.parametrize("override,needle", [
    ("optim.lrr=1", "did you mean 'optim.lr'"),
    ("optimm.lr=1", "did you mean 'optim'"),
    ("reinforce.baseline=rlooo", "did you mean 'rloo'"),
    ("optim.lr=abc", "optim.lr: expected float"),
    ("optim.steps=1.5", "optim.steps: expected int"),
    ("optim.steps=0", "optim.steps: 0 is out of range"),
    ("reinforce.temperature=-1", "reinforce.temperature"),
    ("run.progress=3", "run.progress: expected bool"),
    ("task.train_min_len=9", "task.train_min_len (9) > task.train_max_len (8)"),
    ("reinforce.samples_per_input=1", "needs reinforce.samples_per_input >= 2"),
    ("model.hidden_dim=30", "model.hidden_dim (30) must be divisible by model.heads"),
])
def test_bad_values_name_the_key(override, needle):
    extra = ["model.kind=transformer"] if "hidden_dim=30" in override else []
    with pytest.raises(ConfigError) as err:
        load_config(None, extra + [override])
    assert needle in str(err.value)


def test_bad_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("optim:\n  lr: [1, 2\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"{path}:3:" in str(err.value) and "invalid YAML" in str(err.value)


def test_section_must_be_mapping(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim: 3\n")
    with pytest.raises(ConfigError, match="optim: expected a mapping"):
        load_config(path)


def test_override_syntax():
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config(None, ["optim"])
    with pytest.raises(ConfigError, match="must be section.key"):
        load_config(None, ["lr=3"])


def test_scientific_notation_without_dot(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lr: 1e-4\n")
    assert load_config(path).optim.lr == pytest.approx(1e-4)


@pytest.mark.parametrize("override, needle", [
    ("task.gamma=0.9", "task.gamma=0.9 < 1"),
    ("reinforce.kl_coef=0.1", "kl_estimator=k1"),
    ("task.per_token=true", "task.per_token=true"),
])
def test_self_critical_refuses_returns_that_are_not_the_sequence_reward(override, needle):
    with pytest.raises(ConfigError, match=needle):
        load_config(None, ["reinforce.baseline=self_critical", override])
    load_config(None, ["reinforce.baseline=rloo", override])  # fine with another baseline
    load_config(None, ["reinforce.baseline=self_critical", "reinforce.kl_coef=0.1", "reinforce.kl_estimator=k3"])


def test_nested_sections_take_dotted_overrides_and_bad_paths_are_named():
    cfg = load_config(None, ["run.diagnostics.every=5", "run.diagnostics.baselines=none,rloo"])
    assert cfg.run.diagnostics.every == 5 and cfg.diagnostic_baselines() == ("none", "rloo")
    with pytest.raises(ConfigError, match="optim.lr: expected float"):
        load_config(None, ["optim.lr.x=3"])
    with pytest.raises(ConfigError, match="did you mean .run.diagnostics.every."):
        load_config(None, ["run.diagnostics.evry=5"])


def test_every_key_in_the_help_table_shows_its_real_default():
    from seqrl.config.validate import describe

    rows = {key: default for key, _, default, _ in describe(Config)}
    assert rows["env.kwargs"] == {} and rows["run.diagnostics.every"] == 0
    assert not any("MISSING" in repr(v) for v in rows.values())
