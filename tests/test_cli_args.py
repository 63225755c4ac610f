"""The command line's argument handling: overrides anywhere, help that agrees with itself, and a
closed pipe that ends quietly."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from seqrl.cli import _parse, build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def test_overrides_may_come_before_or_after_the_options():
    a = _parse(["train", "configs/sort.yaml", "--run-dir", "D", "optim.steps=2", "run.seed=3"])
    assert (a.config, a.run_dir, a.overrides) == ("configs/sort.yaml", "D", ["optim.steps=2", "run.seed=3"])
    b = _parse(["train", "configs/sort.yaml", "optim.steps=2", "--run-dir", "D", "run.seed=3"])
    assert (b.config, b.run_dir, b.overrides) == ("configs/sort.yaml", "D", ["optim.steps=2", "run.seed=3"])
    c = _parse(["train", "--run-dir", "D", "optim.steps=2"])  # no config file: the demo with an override
    assert c.run_dir == "D" and [c.config, *c.overrides] == ["optim.steps=2"]


def test_an_unknown_option_is_still_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        _parse(["train", "configs/sort.yaml", "--bogus", "optim.steps=2"])
    assert exc.value.code == 2 and "unrecognized arguments: --bogus" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parse(["list", "optim.steps=2"])  # list takes no overrides


def test_a_run_trains_with_overrides_after_its_options(tmp_path):
    assert main(["train", "configs/sort.yaml", "--run-dir", str(tmp_path / "r"), "optim.steps=2",
                 "run.progress=false", "run.trackers=none", "task.val_size=8", "run.eval_every=2"]) == 0
    assert (tmp_path / "r" / "checkpoints").is_dir()


def test_help_shows_no_contradictory_default():
    train = next(a for a in build_parser()._subparsers._group_actions[0].choices["train"]._actions
                 if "--run-dir" in a.option_strings)
    text = " ".join(build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    assert train.default is None and "(default: None)" not in text and "runs/<env id>-<algo>-<time>" in text
    top = " ".join(build_parser().format_help().split())
    assert "gymnasium environments" in top and "stochastic computation graphs" in top


def test_a_closed_pipe_ends_quietly():
    cmd = f"{sys.executable} -m seqrl config --keys | head -1"
    out = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith("key\t") and out.returncode in (0, 141), out
    assert "Broken pipe" not in out.stderr and "Traceback" not in out.stderr, out.stderr
