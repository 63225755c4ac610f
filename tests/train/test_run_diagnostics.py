"""run.diagnostics: measured without changing the run, on identical samples per baseline,
resumed exactly, refused by name where a baseline cannot be computed, drawn by seqrl plot."""
import json

import pytest

from seqrl.cli import main
from seqrl.config import ConfigError, load_config
from seqrl.run import jsonl
from seqrl.sources import make_trainer
from tests.conftest import full_and_resumed, logged_rows, tiny_config
from tests.envs.test_env_runs import CARTPOLE

DIAG = ["run.diagnostics.every=3", "run.diagnostics.repeats=4"]


def test_diagnostics_do_not_change_the_run_and_measure_every_baseline(tmp_path):
    plain = make_trainer(tiny_config("optim.steps=12"), tmp_path / "plain")
    plain.fit()
    measured = make_trainer(tiny_config("optim.steps=12", *DIAG, "run.diagnostics.baselines=all"), tmp_path / "diag")
    measured.fit()
    assert logged_rows(tmp_path / "plain") == logged_rows(tmp_path / "diag")  # same numbers, same bits
    assert logged_rows(tmp_path / "plain", "eval.jsonl") == logged_rows(tmp_path / "diag", "eval.jsonl")
    rows = list(jsonl.read(tmp_path / "diag" / "diagnostics.jsonl"))
    # curriculum.warmup_steps=8: steps 0, 3, 6 train by cross-entropy (nothing sampled), 9 by REINFORCE
    assert [r["step"] for r in rows] == [9]
    spreads = rows[0]["baselines"]
    assert list(spreads) == ["none", "ema", "self_critical", "rloo", "grpo"]  # value: no value head in this run
    for s in spreads.values():
        assert s["total_variance"] > 0 and s["estimates"] == 4 and -1 <= s["cosine"] <= 1 and s["snr"] > 0


def test_an_interrupted_run_resumes_to_the_same_diagnostics(tmp_path, monkeypatch):
    cfg = tiny_config("curriculum.kind=reinforce", "optim.steps=10", "run.checkpoint_every=4", *DIAG)
    full, resumed = full_and_resumed(cfg, tmp_path, monkeypatch, at_step=7)
    resumed.fit()
    rows = logged_rows(tmp_path / "full", "diagnostics.jsonl")
    assert [r["step"] for r in rows] == [0, 3, 6, 9]
    assert logged_rows(tmp_path / "stopped", "diagnostics.jsonl") == rows  # no row lost, none twice


def test_a_value_baseline_run_measures_its_value_head_too(tmp_path):
    t = make_trainer(tiny_config("curriculum.kind=reinforce", "optim.steps=1", "reinforce.baseline=value",
                            "run.diagnostics.every=1", "run.diagnostics.baselines=value,none"), tmp_path)
    t.fit()
    (row,) = jsonl.read(tmp_path / "diagnostics.jsonl")
    assert list(row["baselines"]) == ["value", "none"]


def test_a_constant_baseline_cancels_when_an_environment_run_standardises_its_returns(tmp_path):
    t = make_trainer(load_config(None, CARTPOLE + ["optim.steps=3", "env.standardize_returns=true", "run.diagnostics.every=2",
                                              "run.diagnostics.baselines=all"]), tmp_path)
    t.fit()
    rows = list(jsonl.read(tmp_path / "diagnostics.jsonl"))
    assert [r["step"] for r in rows] == [0, 2]
    for r in rows:  # standardising subtracts the batch mean: none and ema give the same estimates
        none, ema = r["baselines"]["none"], r["baselines"]["ema"]
        assert none["total_variance"] > 0
        assert ema["total_variance"] == pytest.approx(none["total_variance"], rel=1e-4)
        assert ema["mean_norm"] == pytest.approx(none["mean_norm"], rel=1e-4)


@pytest.mark.parametrize("overrides, message", [
    (["run.diagnostics.baselines=value"], "value needs reinforce.baseline=value"),
    (["run.diagnostics.baselines=rloo", "reinforce.samples_per_input=1", "reinforce.baseline=none"], "rloo needs reinforce.samples_per_input"),
    (["run.diagnostics.baselines=self_critical", "task.gamma=0.9", "task.per_token=true"], "self_critical with task.gamma"),
    (["run.diagnostics.baselines=nonee"], "'nonee' is not a baseline"),
    (["run.diagnostics.baselines=none,,rloo"], "'none,,rloo' has an empty name"),
    (["run.diagnostics.repeats=1"], "run.diagnostics.repeats"),
    (CARTPOLE + ["run.diagnostics.baselines=rloo"], "rloo compares samples of one input"),
    (CARTPOLE + ["env.algo=dqn", "run.diagnostics.every=5"], "env.algo=dqn has no REINFORCE gradient"),
    (["curriculum.kind=xent", "run.diagnostics.every=5"], "curriculum.kind=xent never samples"),
])
def test_baselines_a_run_cannot_compute_are_named_before_compute(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


def test_diagnostics_may_change_on_resume_and_seqrl_plot_draws_them(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *CARTPOLE, "optim.steps=2", "run.checkpoint_every=1", "--run-dir", str(run)]) == 0
    assert main(["train", "--resume", str(run), "optim.steps=3", "run.diagnostics.every=1",
                 "run.diagnostics.repeats=3"]) == 0
    rows = list(jsonl.read(run / "diagnostics.jsonl"))
    assert [r["step"] for r in rows] == [2] and rows[0]["repeats"] == 3
    capsys.readouterr()
    assert main(["plot", str(run), "-o", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out.split()
    assert out == [str(tmp_path / "p.png"), str(tmp_path / "p_diagnostics.png")]
    assert (tmp_path / "p_diagnostics.png").stat().st_size > 10_000
    json.dumps(rows)  # valid JSON (no inf)
