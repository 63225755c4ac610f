"""Checkpoints you can trust: damage is named, resume falls back to the newest checkpoint that
verifies, non-finite weights are refused, and a resumed run keeps its experiment's config."""
import json
import re

import pytest
from safetensors import safe_open
from safetensors.torch import save_file

from seqrl.cli import main
from seqrl.config import ConfigError
from seqrl.run.errors import CheckpointError
from seqrl.train import checkpoint as ckpt
from seqrl.sources import make_trainer, resume
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A TINY run (24 steps, checkpoints at 8, 16, 24), trained once; tests copy it."""
    run = tmp_path_factory.mktemp("trust") / "run"
    make_trainer(tiny_config(), run).fit()
    return run


@pytest.fixture
def run(finished, tmp_path):
    import shutil

    dst = tmp_path / "run"
    shutil.copytree(finished, dst)
    return dst


def _latest(run):
    return ckpt.list_checkpoints(run / "checkpoints")[-1][1]


def _rewrite(path, edit_tensors=None, edit_meta=None, keep_digest=True):
    """Rewrite a checkpoint with edited tensors or metadata (and the old checksum, as a tamperer would)."""
    with safe_open(str(path), framework="pt") as f:
        header = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if edit_tensors:
        edit_tensors(tensors)
    if edit_meta:
        meta = json.loads(header["seqrl"])
        edit_meta(meta)
        header["seqrl"] = json.dumps(meta)
    if not keep_digest:
        header["seqrl_sha256"] = ckpt.digest(tensors, header["seqrl"])
    save_file(tensors, str(path), metadata=header)


def _flip_sign(tensors):
    tensors["policy.network.out.weight"] = -tensors["policy.network.out.weight"]


def _set_nan(tensors):
    tensors["policy.network.out.weight"][0, 0] = float("nan")


DAMAGE = {
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "not a readable checkpoint"),
    "emptied": (lambda p: p.write_bytes(b""), "the file is empty"),
    "bit-flipped": (lambda p: _flip_byte(p), "checksum mismatch"),
    "sign-flipped weight": (lambda p: _rewrite(p, edit_tensors=_flip_sign), "checksum mismatch"),
    "edited step": (lambda p: _rewrite(p, edit_meta=lambda m: m["state"].update(step=1)), "checksum mismatch"),
    "replaced by garbage": (lambda p: p.write_bytes(b"\x00" * 4096), "not a readable checkpoint"),
    "replaced by another step": (lambda p: p.write_bytes(ckpt.checkpoint_path(p.parent, 16).read_bytes()),
                                 "its name says step 24 but it holds step 16"),
}


def _flip_byte(path):
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01  # inside the last tensor's bytes
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damage_is_named_and_resume_falls_back(run, kind, caplog):
    damage, message = DAMAGE[kind]
    latest = _latest(run)
    damage(latest)
    with pytest.raises(CheckpointError, match=message) as err:
        ckpt.load_checkpoint(latest) if kind != "replaced by another step" else resume(run, step=24)
    assert str(latest) in str(err.value) and "\n" not in str(err.value)
    resumed = resume(run)  # the latest is damaged: the one before it verifies
    assert resumed.state.step == 16 and resumed.damaged == [latest]
    assert "step 16" in caplog.text and str(latest) in caplog.text


def test_fallback_renames_the_damaged_file_and_trains_on(run):
    latest = _latest(run)
    _flip_byte(latest)
    resumed = resume(run)
    resumed.fit()
    assert latest.with_name(latest.name + ".corrupt").exists()
    assert resumed.state.step == 24 and ckpt.load_checkpoint(latest)[1]["state"]["step"] == 24


def test_no_checkpoint_verifies(run):
    for _, path in ckpt.list_checkpoints(run / "checkpoints"):
        path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="no checkpoint in .* verifies"):
        resume(run)


def test_non_finite_weights_are_refused_by_name(run):
    latest = _latest(run)
    _rewrite(latest, edit_tensors=_set_nan, keep_digest=False)  # a NaN written with a valid checksum
    with pytest.raises(CheckpointError, match=r"tensor 'policy.network.out.weight' has 1 non-finite value"):
        ckpt.load_checkpoint(latest)
    assert main(["eval", str(run), "--checkpoint", "24"]) == 1  # an error, not exact match 0.0


def test_structural_damage_with_a_valid_checksum_is_named(run):
    latest = _latest(run)
    _rewrite(latest, edit_meta=lambda m: m.pop("rng"), keep_digest=False)
    with pytest.raises(CheckpointError, match=r"does not fit this run \(KeyError: 'rng'\)"):
        resume(run, step=24)
    _rewrite(latest, edit_meta=lambda m: m.update(state={**m["state"], "bogus": 1}), keep_digest=False)
    with pytest.raises(CheckpointError, match="does not fit this run .*bogus"):
        resume(run, step=24)


@pytest.mark.parametrize("old, new, named", [
    ("name: reverse", "name: copy", "task.name: 'reverse' -> 'copy'"),
    ("seed: 0", "seed: 3", "run.seed: 0 -> 3"),
    ("warmup_steps: 8", "warmup_steps: 2", "curriculum.warmup_steps: 8 -> 2"),
    ("hidden_dim: 32", "hidden_dim: 64", "model.hidden_dim: 32 -> 64"),  # not a raw size mismatch
])
def test_a_changed_config_is_refused_with_the_changed_keys(run, old, new, named):
    cfg = run / "config.yaml"
    text = cfg.read_text()
    assert old in text
    cfg.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError, match=re.escape(named)):
        resume(run)


def test_safe_changes_go_through_the_explicit_path(run):
    with pytest.raises(ConfigError, match="not optim.lr"):
        resume(run, overrides=["optim.lr=0.1"])
    assert main(["train", "--resume", str(run), "optim.steps=32", "run.checkpoint_every=4"]) == 0
    resumed = resume(run)
    assert resumed.state.step == 32 and resumed.cfg.optim.steps == 32  # written into config.yaml
    assert [s for s, _ in ckpt.list_checkpoints(run / "checkpoints")][-2:] == [28, 32]


def test_resuming_a_finished_run_appends_nothing(run, capsys):
    files = {name: (run / name).read_text() for name in ("metrics.jsonl", "eval.jsonl", "summary.jsonl")}
    assert main(["train", "--resume", str(run)]) == 0
    assert "already finished at step 24" in capsys.readouterr().err
    assert {name: (run / name).read_text() for name in files} == files


def test_resume_with_another_run_dir_is_refused(run, tmp_path):
    assert main(["train", "--resume", str(run), "--run-dir", str(tmp_path / "other")]) == 2
    assert not (tmp_path / "other").exists()
