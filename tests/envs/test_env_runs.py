"""Environment runs through the one run machinery: learning, exact resume, validation, and the
error paths (bad ids, failing environments) as one named line."""
from __future__ import annotations

import math
import multiprocessing
import time

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

import torch

from seqrl.cli import main
from seqrl.config import ConfigError, load_config
from seqrl.envs.collect import EnvFailure
from seqrl.run import jsonl
from seqrl.sources import make_trainer
from tests.conftest import full_and_resumed, logged_rows

CARTPOLE = ["env.id=CartPole-v1", "env.num_envs=4", "env.episodes_per_step=8", "run.progress=false",
            "run.threads=1", "run.log_every=1", "run.trackers=none", "env.eval_episodes=4"]


_metrics = logged_rows


@pytest.mark.parametrize("extra", [[], ["reinforce.baseline=ema", "env.standardize_returns=true"],
                                   ["env.max_episode_steps=10"]])
def test_an_interrupted_environment_run_resumes_bit_identical(tmp_path, monkeypatch, extra):
    cfg = load_config(None, CARTPOLE + ["optim.steps=6", "run.checkpoint_every=3", "run.eval_every=3"] + extra)
    full, resumed = full_and_resumed(cfg, tmp_path, monkeypatch, 5)
    assert resumed.state.step == 3
    resumed.fit()
    a, b = full.source.policy.state_dict(), resumed.source.policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _metrics(tmp_path / "full") == _metrics(tmp_path / "stopped")
    assert _metrics(tmp_path / "full", "eval.jsonl") == _metrics(tmp_path / "stopped", "eval.jsonl")
    if "env.max_episode_steps=10" in extra:
        assert all(r["truncated"] > 0 for r in _metrics(tmp_path / "full"))  # the bootstrapped path ran


def test_the_same_seed_gives_the_same_bits_and_another_seed_does_not(tmp_path):
    runs = []
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        t = make_trainer(load_config(None, CARTPOLE + ["optim.steps=2", f"run.seed={seed}"]), tmp_path / name)
        t.fit()
        runs.append(_metrics(tmp_path / name))
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_cartpole_learns_within_seconds(tmp_path):
    cfg = load_config(None, CARTPOLE + ["optim.steps=40", "optim.lr=0.01", "env.num_envs=8",
                                        "env.episodes_per_step=16", "run.eval_every=40", "env.eval_episodes=8"])
    summary = make_trainer(cfg, tmp_path / "run").fit()
    rows = list(jsonl.read(tmp_path / "run" / "metrics.jsonl"))
    assert rows[0]["reward_mean"] < 40
    assert summary["return_mean"] > 150, [r["reward_mean"] for r in rows]


@pytest.mark.parametrize("reset_on_reward, warned", [(False, True), (True, False)])
def test_few_standardised_episodes_warn_unless_every_point_restarts_the_return(tmp_path, caplog, reset_on_reward,
                                                                                warned):
    cfg = load_config(None, CARTPOLE + ["env.episodes_per_step=4", "env.standardize_returns=true",
                                        f"env.reset_on_reward={str(reset_on_reward).lower()}"])
    with caplog.at_level("WARNING", logger="seqrl"):
        make_trainer(cfg, tmp_path / "run").source.close()
    assert ("shrinks the gradient" in caplog.text) == warned


def test_a_bad_env_id_is_a_config_error_with_a_suggestion(tmp_path):
    with pytest.raises(ConfigError, match=r"env.id: 'CartPol-v1' is not a registered gymnasium environment; "
                                          r"did you mean 'CartPole-v1'"):
        make_trainer(load_config(None, ["env.id=CartPol-v1"]), tmp_path / "run")


def test_sequence_settings_are_refused_for_an_environment():
    with pytest.raises(ConfigError, match="reinforce.baseline='rloo' compares samples of one input"):
        load_config(None, ["env.id=CartPole-v1", "reinforce.baseline=rloo"])
    with pytest.raises(ConfigError, match="model.kind='gru' is a sequence model"):
        load_config(None, ["env.id=CartPole-v1", "model.kind=gru"])
    with pytest.raises(ConfigError, match="env.kwargs: expected dict"):
        load_config(None, ["env.id=CartPole-v1", "env.kwargs=3"])


@pytest.mark.parametrize("overrides,message", [
    (["model.kind=cnn"], "model.kind=cnn needs image observations"),
    (["env.id=FrozenLake-v1", "model.kind=cnn"], "model.kind=cnn needs image observations .* Discrete"),
    (["env.grayscale=true"], "env.grayscale: GrayscaleObservation requires an image"),
    (["env.preprocess=pong"], "env.preprocess=pong: the Pong pre-processing takes Atari RGB frames"),
    (["env.id=FrozenLake-v1", "env.kwargs={map_name: nope}"], "env.id: gymnasium cannot make FrozenLake-v1 .*nope"),
    (["env.eval_kwargs={no_such_option: 1}"], "env.eval_kwargs: CartPole-v1 refused them"),
    (["env.id=FrozenLake-v1", "env.eval_kwargs={map_name: nope}"],
     "env.eval_kwargs: gymnasium cannot make FrozenLake-v1 .*nope"),
])
def test_set_ups_no_policy_or_wrapper_can_serve_are_config_errors(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        make_trainer(load_config(None, CARTPOLE + overrides), tmp_path / "run")


def test_validation_environments_take_eval_kwargs_over_kwargs(tmp_path):
    cfg = load_config(None, ["env.id=FrozenLake-v1", "env.algo=q_learning", "env.kwargs={is_slippery: false}",
                             "env.eval_kwargs={is_slippery: true}", "env.num_envs=2"])
    source = make_trainer(cfg, tmp_path / "run").source
    try:
        train = [e.unwrapped.spec.kwargs["is_slippery"] for e in source.environments.train.envs]
        evaluation = [e.unwrapped.spec.kwargs["is_slippery"] for e in source.environments.eval.envs]
    finally:
        source.close()
    assert train == [False, False] and evaluation == [True, True]


class Faulty(gym.Env):
    """CartPole-like; raises or returns NaN at its 5th step of the 2nd episode, in env 1 only."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, mode: str = "raise") -> None:
        self.mode, self.episodes = mode, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.episodes = 0, self.episodes + 1
        if seed is not None:  # the seeded first reset of a step; later ones are autoresets
            self.bad = seed % 2 == 1  # not every environment
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        obs = np.zeros(2, np.float32)
        if self.t == 5 and self.episodes >= 2 and self.bad:
            if self.mode == "raise":
                raise ValueError("the simulator diverged")
            if self.mode == "string":
                return obs, "1.0", False, False, {}  # gymnasium would coerce it with a warning
            if self.mode == "hang":
                while True:
                    time.sleep(0.05)
            obs[0] = math.nan
        return obs, 1.0, self.t >= 6, False, {}


gym.register("Faulty-v0", entry_point=Faulty)


@pytest.mark.parametrize("mode,message", [("raise", "raised ValueError: the simulator diverged"),
                                          ("nan", "returned a non-finite observation"),
                                          ("string", r"raised TypeError: step\(\) returned a reward of type str")])
def test_a_failing_environment_is_named_with_step_index_and_episode(tmp_path, mode, message, capsys):
    from seqrl.seeds import env_reset as env_seed

    bad_index = next(i for i in range(2) if env_seed(0, 0, i) % 2 == 1)
    overrides = ["env.id=Faulty-v0", f"env.kwargs={{mode: {mode}}}", "env.num_envs=2", "env.episodes_per_step=6",
                 "run.progress=false", "run.trackers=none", "optim.steps=2"]
    with pytest.raises(EnvFailure, match=rf"step 0: Faulty-v0 {message}.*environment {bad_index}, episode 2 of"):
        make_trainer(load_config(None, overrides), tmp_path / "run").fit()
    assert main(["train", *overrides, "--run-dir", str(tmp_path / "cli")]) == 1
    err = capsys.readouterr().err
    assert "error: step 0: Faulty-v0" in err and "Traceback" not in err


def test_eval_and_sample_play_episodes_from_the_cli(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *CARTPOLE, "optim.steps=2", "--run-dir", str(run)]) == 0
    assert main(["eval", str(run)]) == 0
    out = capsys.readouterr().out
    assert '"return_mean"' in out and (run / "eval" / "validation.greedy.step2.json").exists()
    gif = tmp_path / "episode.gif"
    assert main(["sample", str(run), "--n", "3", "--video", str(gif)]) == 0
    captured = capsys.readouterr()
    assert "CartPole-v1 at step 2" in captured.out and "mean return" in captured.err
    assert gif.read_bytes()[:6] == b"GIF89a"


def test_async_environments_play_the_same_episodes_as_sync_ones(tmp_path):
    rows = []
    for mode in ("sync", "async"):
        cfg = load_config(None, CARTPOLE + ["optim.steps=2", "env.num_envs=2", f"env.vectorization={mode}"])
        make_trainer(cfg, tmp_path / mode).fit()
        rows.append(_metrics(tmp_path / mode))
    assert rows[0] == rows[1]


@pytest.mark.parametrize("squash", ["clip", "tanh"])
def test_a_continuous_control_task_trains_with_a_gaussian_policy(tmp_path, squash):
    cfg = load_config(None, ["env.id=Pendulum-v1", f"env.continuous={squash}", "env.num_envs=2",
                             "env.episodes_per_step=2", "env.max_episode_steps=30", "optim.steps=2",
                             "run.progress=false", "run.trackers=none", "run.threads=1", "env.eval_episodes=1"])
    trainer = make_trainer(cfg, tmp_path / "run")
    summary = trainer.fit()
    rows = list(jsonl.read(tmp_path / "run" / "metrics.jsonl"))
    assert all(math.isfinite(r["loss"]) and r["truncated"] == 1.0 for r in rows)  # Pendulum only ever truncates
    assert math.isfinite(summary["return_mean"]) and trainer.source.policy.log_std.grad is not None


def test_gymnasium_wrappers_clip_rewards_and_stack_frames(tmp_path):
    from seqrl.envs.make import make_one

    cfg = load_config(None, ["env.id=CartPole-v1", "env.reward_clip=0.25", "env.frame_stack=3"])
    env = make_one(cfg)()
    obs, _ = env.reset(seed=0)
    _, reward, *_ = env.step(0)
    assert reward == 0.25 and np.asarray(obs).shape == (3, 4)
    env.close()


def test_standardised_returns_of_few_episodes_are_warned_about(tmp_path, caplog):
    cfg = load_config(None, CARTPOLE + ["env.standardize_returns=true", "env.episodes_per_step=4", "optim.steps=1"])
    with caplog.at_level("WARNING", logger="seqrl"):
        make_trainer(cfg, tmp_path / "a")
    assert "env.standardize_returns with env.episodes_per_step=4" in caplog.text and "x0.62" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="seqrl"):
        make_trainer(load_config(None, CARTPOLE + ["env.standardize_returns=true", "env.episodes_per_step=8"]),
                     tmp_path / "b")
    assert "standardize_returns" not in caplog.text


@pytest.mark.parametrize("vectorization", ["sync", "async"])
def test_a_hanging_environment_step_stops_the_run_within_env_step_timeout(tmp_path, vectorization, capsys):
    overrides = ["env.id=Faulty-v0", "env.kwargs={mode: hang}", "env.num_envs=2", "env.episodes_per_step=6",
                 f"env.vectorization={vectorization}", "env.step_timeout=1", "run.progress=false",
                 "run.trackers=none", "optim.steps=2"]
    began = time.monotonic()
    assert main(["train", *overrides, "--run-dir", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert time.monotonic() - began < 30
    assert "error: step 0: Faulty-v0 raised" in err and ("did not return within 1 s" in err or "timed out" in err), err
    assert "Traceback" not in err and [ln for ln in err.splitlines() if not ln.startswith("run directory")] == [
        next(ln for ln in err.splitlines() if ln.startswith("error:"))], err
    assert not multiprocessing.active_children()  # async workers were terminated, none orphaned


def test_an_async_environment_that_raises_is_one_line_naming_the_environment(tmp_path, capsys):
    from seqrl.seeds import env_reset as env_seed

    bad_index = next(i for i in range(2) if env_seed(0, 0, i) % 2 == 1)
    overrides = ["env.id=Faulty-v0", "env.kwargs={mode: raise}", "env.num_envs=2", "env.episodes_per_step=6",
                 "env.vectorization=async", "run.progress=false", "run.trackers=none", "optim.steps=2"]
    assert main(["train", *overrides, "--run-dir", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "Received the following error" not in err and "Traceback" not in err, err
    assert f"raised ValueError: the simulator diverged (environment {bad_index}, episode" in err, err
    assert [ln for ln in err.splitlines() if not ln.startswith("run directory")] == [
        next(ln for ln in err.splitlines() if ln.startswith("error:"))], err


def test_a_video_is_written_without_display_warnings(tmp_path):
    """`seqrl sample --video` renders off-screen: no SDL complaint on a machine with no display."""
    import os
    import subprocess
    import sys

    pytest.importorskip("pygame")
    run = tmp_path / "run"
    assert main(["train", *CARTPOLE, "optim.steps=1", "--run-dir", str(run)]) == 0
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "SDL_VIDEODRIVER", "SDL_AUDIODRIVER",
                                                             "DISPLAY")}
    done = subprocess.run([sys.executable, "-m", "seqrl", "sample", str(run), "--n", "1", "--video",
                           str(tmp_path / "e.gif")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "error" not in done.stderr.lower() and "XDG_RUNTIME_DIR" not in done.stderr, done.stderr
    assert (tmp_path / "e.gif").read_bytes()[:3] == b"GIF"
