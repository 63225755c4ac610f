"""Trackers mirror every metrics and validation row, read back with each tool's own reader."""
import importlib.util

import pytest

from seqrl.config import ConfigError, load_config
from seqrl.run import jsonl
from seqrl.run.trackers import parse_trackers
from seqrl.sources import make_trainer, resume
from tests.conftest import fit_until_interrupted, tiny_config


def test_tracker_names_are_validated():
    assert parse_trackers("none") == ()
    assert parse_trackers("tensorboard, mlflow,tensorboard") == ("tensorboard", "mlflow")
    with pytest.raises(ConfigError, match="run.trackers: unknown tracker"):
        load_config(None, ["run.trackers=tensorbored"])
    if importlib.util.find_spec("wandb") is None:  # named but missing: the extra to install, before compute
        with pytest.raises(ConfigError, match=r'run.trackers: wandb is not installed: pip install -e "\.\[wandb\]" in the seqrl checkout'):
            make_trainer(tiny_config("run.trackers=wandb"), "unused")


def _scalars(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    acc.Reload()
    return acc, {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_mirrors_metrics_and_validation_and_resume_hides_the_lost_steps(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    assert parse_trackers("auto") == ("tensorboard",)
    cfg = tiny_config("run.trackers=auto")
    run = tmp_path / "run"
    fit_until_interrupted(make_trainer(cfg, run), monkeypatch, 13)  # checkpoint at 8; steps 9..12 logged, then lost
    resume(run).fit()
    acc, tags = _scalars(run)
    metrics = list(jsonl.read(run / "metrics.jsonl"))
    assert tags["train/loss"] == [(r["step"], pytest.approx(r["loss"])) for r in metrics]  # 1..24, once each
    evals = list(jsonl.read(run / "eval.jsonl"))
    assert tags["validation/exact_match"] == [(r["step"], pytest.approx(r["exact_match"])) for r in evals]
    assert "hparams" in acc.PluginTagToContent("hparams") or acc.PluginTagToContent("hparams")  # the config


def test_mlflow_mirrors_rows_into_one_run_per_directory(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())  # a local store, no server
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    run = tmp_path / "run"
    fit_until_interrupted(make_trainer(tiny_config("run.trackers=mlflow"), run), monkeypatch, 13)
    resume(run).fit()
    (found,) = mlflow.search_runs(search_all_experiments=True, output_format="list")  # resumed into the same run
    assert found.data.params["optim.lr"] == "0.002" and found.data.params["task.name"] == "reverse"
    history = mlflow.MlflowClient().get_metric_history(found.info.run_id, "validation/exact_match")
    evals = list(jsonl.read(run / "eval.jsonl"))
    last = {h.step: h.value for h in history}  # a step logged before the interruption is logged again
    assert last == {r["step"]: pytest.approx(r["exact_match"]) for r in evals}


def test_a_tracker_that_cannot_start_is_one_line_before_the_first_step(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
    from seqrl.run.errors import RunError

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "nosuchscheme://nowhere")
    trainer = make_trainer(tiny_config("run.trackers=mlflow"), tmp_path)
    with pytest.raises(RunError, match=r"run.trackers: mlflow could not start \(") as err:
        trainer.fit()
    assert "\n" not in str(err.value) and trainer.state.step == 0


def test_tensorboard_mirrors_the_diagnostics_rows(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    run = tmp_path / "run"
    make_trainer(tiny_config("run.trackers=tensorboard", "curriculum.kind=reinforce", "optim.steps=4",
                        "run.diagnostics.every=2", "run.diagnostics.repeats=3", "run.diagnostics.baselines=none,rloo"),
            run).fit()
    _, tags = _scalars(run)
    rows = list(jsonl.read(run / "diagnostics.jsonl"))
    for baseline in ("none", "rloo"):
        assert tags[f"diagnostics/{baseline}/total_variance"] == [
            (r["step"], pytest.approx(r["baselines"][baseline]["total_variance"], rel=1e-6)) for r in rows]


def test_a_tracker_that_fails_to_close_never_hides_the_first_error(tmp_path, monkeypatch, caplog):
    """A full disk: the metrics append fails, then the tracker's close fails too; the user sees the
    append's error (one line, the file named), the close's failure as a warning."""
    from seqrl.run import errors, jsonl, trackers
    from seqrl.sources import make_trainer
    from tests.conftest import tiny_config

    class Broken:
        def __init__(self, *args):
            pass

        def log(self, *args):
            pass

        def close(self):
            raise OSError(28, "No space left on device")

    monkeypatch.setitem(trackers.TRACKERS, "tensorboard", Broken)
    real = jsonl.append

    def append(path, row):
        if row.get("step") == 3:
            raise errors.RunError(f"cannot write {path}: No space left on device")
        return real(path, row)

    monkeypatch.setattr(jsonl, "append", append)
    trainer = make_trainer(tiny_config("run.trackers=tensorboard", "optim.steps=6"), tmp_path / "run")
    with caplog.at_level("WARNING", logger="seqrl"):
        with pytest.raises(errors.RunError, match=r"cannot write .*metrics.jsonl: No space left on device"):
            trainer.fit()
    assert "closing failed (Broken: OSError" in caplog.text
