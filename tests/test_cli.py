"""The `seqrl` commands end to end, in-process."""
import json

import pytest

from seqrl.cli import main
from tests.conftest import TINY


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", *TINY, "--run-dir", str(run)]) == 0
    return run


def test_train_writes_the_run_directory(run_dir):
    assert (run_dir / "config.yaml").exists()
    assert (run_dir / "metrics.jsonl").exists() and (run_dir / "eval.jsonl").exists()
    assert list((run_dir / "checkpoints").glob("step-*.safetensors"))
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    keys = {"reward_mean", "reward_std", "loss", "entropy", "grad_norm", "baseline_error",
            "reinforce_share", "seq_per_s", "tok_per_s"}
    assert keys <= set(rows[-1])
    evals = [json.loads(line) for line in (run_dir / "eval.jsonl").read_text().splitlines()]
    assert evals[-1]["samples"] and "exact_match" in evals[-1]


def test_metrics_carry_the_step_profile_and_training_time(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rl = [r for r in rows if r["mode"] == "reinforce"]
    assert rl, "the TINY run has REINFORCE steps"
    phases = ("time_sample", "time_reward", "time_score", "time_backward", "time_optim")
    for r in rl:
        assert all(r[p] >= 0 for p in phases)
        assert sum(r[p] for p in phases) + r.get("time_baseline", 0.0) <= r["step_time"] + 1e-6  # parts of the step
    xent = [r for r in rows if r["mode"] == "xent"]
    assert all("time_sample" not in r and r["time_score"] >= 0 for r in xent)
    seconds = [r["seconds"] for r in rows]
    assert seconds == sorted(seconds) and seconds[-1] >= sum(r["step_time"] for r in rows) - 1e-2


def test_eval_prints_metrics(run_dir, capsys):
    assert main(["eval", str(run_dir)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["step"] == 24 and 0.0 <= out["exact_match"] <= 1.0
    saved = json.loads((run_dir / "eval" / "validation.greedy.step24.json").read_text())
    assert saved["exact_match"] == out["exact_match"]
    lines = (run_dir / "eval" / "validation.greedy.step24.txt").read_text().splitlines()
    assert len(lines) == out["size"] == 32
    assert main(["eval", str(run_dir), "--beam", "4", "--checkpoint", "best"]) == 0
    beam = json.loads(capsys.readouterr().out)
    assert beam["decoding"] == "beam4" and 0.0 <= beam["exact_match"] <= 1.0
    assert main(["eval", str(run_dir), "--split", "test"]) == 2  # needs --data
    with pytest.raises(SystemExit) as bad:  # argparse: one usage line and the error, exit 2
        main(["eval", str(run_dir), "--checkpoint", "worst"])
    assert bad.value.code == 2
    assert main(["eval", str(run_dir), "--checkpoint", "7"]) == 1
    assert "no checkpoint at step 7; it has: 8, 16, 24" in capsys.readouterr().err


def test_sample_and_greedy(run_dir, capsys):
    assert main(["sample", str(run_dir), "--n", "2", "--k", "3"]) == 0
    assert main(["sample", str(run_dir), "--n", "2", "--greedy"]) == 0


def test_plot_several_runs(run_dir, tmp_path):
    out = tmp_path / "curves.png"
    assert main(["plot", str(run_dir), str(run_dir), "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resume_of_finished_run_is_a_no_op(run_dir, capsys):
    assert main(["train", "--resume", str(run_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["step"] == 24


def test_list_and_config_keys(capsys):
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    for name in ("reverse", "digit_sum", "rloo", "self_critical", "mixer", "alternate", "transformer_lm",
                 "environment algorithms", "q_learning", "dqn"):
        assert name in text
    assert main(["config", "--keys"]) == 0
    keys = capsys.readouterr().out
    assert "reinforce.baseline" in keys and "run.diagnostics.every" in keys and "env.algo" in keys


def test_config_errors_exit_2_with_message(capsys, tmp_path):
    assert main(["train", "optim.lrr=1", "--run-dir", str(tmp_path / "x")]) == 2
    assert "did you mean 'optim.lr'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # nothing was created before validation
    assert main(["train", "--resume", str(tmp_path / "x"), "optim.lr=1"]) == 2
    assert main(["eval", str(tmp_path)]) == 2


def test_reference_free_task_needs_reinforce_curriculum(capsys, tmp_path):
    assert main(["train", "task.name=digit_sum", "--run-dir", str(tmp_path / "d")]) == 2
    assert "curriculum.kind" in capsys.readouterr().err


def test_new_run_refuses_a_directory_with_checkpoints(run_dir, capsys):
    assert main(["train", *TINY, "--run-dir", str(run_dir)]) == 2
    assert "--resume" in capsys.readouterr().err


def test_a_run_stopped_by_stop_at_continues_when_resumed_with_it_lifted(tmp_path, capsys):
    import yaml

    run = tmp_path / "stopped"
    base = TINY + ["run.trackers=none", "run.eval_every=2", "run.checkpoint_every=2", "optim.steps=40"]
    assert main(["train", *base, "run.stop_at=0.0", "--run-dir", str(run)]) == 0  # any score reaches 0
    stopped_at = json.loads(capsys.readouterr().out)["step"]
    assert stopped_at == 2
    before = (run / "config.yaml").read_text()
    assert main(["train", "--resume", str(run)]) == 0  # stop_at still reachable: nothing trains
    err = capsys.readouterr().err
    assert "already finished at step 2: run.stop_at=0.0 was reached (best validation" in err
    assert f"seqrl train --resume {run} run.stop_at=null" in err
    assert (run / "config.yaml").read_text() == before  # untouched
    assert main(["train", "--resume", str(run), "run.stop_at=null", "optim.steps=6"]) == 0
    assert json.loads(capsys.readouterr().out)["step"] == 6
    assert yaml.safe_load((run / "config.yaml").read_text())["run"]["stop_at"] is None
