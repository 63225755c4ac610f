"""The file system says no: read-only, full, a path that is a file. One line naming the path and
the system error, before compute where possible; a full disk never costs a checkpoint."""
import errno
import subprocess
from contextlib import contextmanager

import pytest
import torch

from seqrl.cli import main
from seqrl.run.errors import RunError
from seqrl.train import checkpoint as ckpt
from seqrl.sources import make_trainer, resume
from tests.conftest import TINY, tiny_config


@contextmanager
def tmpfs(path, size_kib, read_only=False):
    """A real, small file system (needs permission to mount; skipped otherwise, with the reason)."""
    path.mkdir()
    options = f"size={size_kib}k" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _weights(trainer):
    return {k: v.clone() for k, v in trainer.source.policy.state_dict().items()}


def test_a_read_only_run_directory_is_named_before_compute(tmp_path, capsys):
    with tmpfs(tmp_path / "ro", 64, read_only=True) as ro:
        assert main(["train", *TINY, "--run-dir", str(ro / "run")]) == 1
    err = capsys.readouterr().err
    assert f"cannot use run directory {ro / 'run'}: Read-only file system" in err and "Traceback" not in err


def test_a_full_disk_keeps_the_previous_checkpoint_and_resumes_identically(tmp_path):
    cfg = tiny_config("run.checkpoint_every=2", "run.keep_checkpoints=1000")
    with tmpfs(tmp_path / "small", 1200) as small:
        run = small / "run"
        with pytest.raises(RunError, match=r"No space left on device; the previous checkpoint .* is intact") as err:
            make_trainer(cfg, run).fit()
        assert "\n" not in str(err.value)
        found = ckpt.list_checkpoints(run / "checkpoints")
        assert found and found[-1][0] < 24
        assert not list((run / "checkpoints").glob("*.tmp"))  # the failed write left nothing behind
        for _, path in found:
            ckpt.load_checkpoint(path)  # every checkpoint on disk verifies
        for _, path in found[:-1]:  # free space, keeping the newest
            path.unlink()
        resumed = resume(run, overrides=["run.keep_checkpoints=1"])  # so that it fits now
        resumed.fit()
        stopped_weights = _weights(resumed)
    full = make_trainer(cfg, tmp_path / "full")
    full.fit()
    assert all(torch.equal(a, b) for a, b in zip(_weights(full).values(), stopped_weights.values()))


def test_a_failed_checkpoint_write_is_one_line_and_the_previous_stays(tmp_path, monkeypatch):
    """The same path without a real full disk (no mount needed)."""
    trainer = make_trainer(tiny_config(), tmp_path)
    real = ckpt.save_file

    def fill(tensors, filename, metadata=None):
        if "step-000000016" in filename:
            with open(filename, "wb") as f:
                f.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(tensors, filename, metadata=metadata)

    monkeypatch.setattr(ckpt, "save_file", fill)
    with pytest.raises(RunError, match=r"checkpoint .*step-000000016.safetensors: No space left on device; the "
                                       r"previous checkpoint .*step-000000008.safetensors is intact"):
        trainer.fit()
    left = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert left == ["best.safetensors", "step-000000008.safetensors"]  # no temporary file, no torn one
    assert resume(tmp_path).state.step == 8


@pytest.mark.parametrize("which", ["run", "checkpoints"])
def test_a_path_that_is_a_file_is_named(tmp_path, capsys, which):
    run = tmp_path / "run"
    if which == "run":
        run.write_text("not a directory")
    else:
        run.mkdir()
        (run / "checkpoints").write_text("not a directory")
    assert main(["train", *TINY, "--run-dir", str(run)]) == 1
    err = capsys.readouterr().err
    assert "exists and is not a directory" in err and str(run) in err and "Traceback" not in err


def test_rewards_that_are_all_none_warn_of_no_learning_signal(tmp_path, caplog):
    make_trainer(tiny_config("task.reward=tests.train.bad_rewards:always_none", "run.log_every=4"), tmp_path).fit()
    assert "steps 9..12: every reward was None" in caplog.text and "no learning signal" in caplog.text


def test_validation_results_are_printed_without_the_progress_bar(tmp_path, capsys):
    assert main(["train", *TINY, "optim.steps=8", "run.eval_every=8", "--run-dir", str(tmp_path / "r")]) == 0
    assert "step 8 validation {'exact_match'" in capsys.readouterr().err  # TINY has run.progress=false


def test_a_run_without_reinforce_steps_says_so(tmp_path, caplog):
    make_trainer(tiny_config("optim.steps=4", "curriculum.warmup_steps=8"), tmp_path)
    assert "no REINFORCE step will run: curriculum.warmup_steps (8) >= optim.steps (4)" in caplog.text
