import json
import random

import numpy as np
import pytest
import torch

from seqrl.train import checkpoint as ckpt


def test_atomic_write_keeps_previous_file_when_interrupted(tmp_path, monkeypatch):
    path = ckpt.checkpoint_path(tmp_path, 1)
    ckpt.save_checkpoint(path, {"w": torch.ones(3)}, {"step": 1})

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.os, "replace", boom)
    with pytest.raises(OSError):
        ckpt.save_checkpoint(path, {"w": torch.zeros(3)}, {"step": 2})
    tensors, meta = ckpt.load_checkpoint(path)
    assert tensors["w"].tolist() == [1.0, 1.0, 1.0] and meta == {"step": 1}
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path)] == [1]  # the .tmp file is not a checkpoint


def test_optimizer_and_rng_round_trip_bit_exact(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(8, 4)).pow(2).sum().backward()
        opt.step()
    tensors = ckpt.module_tensors("m", model)
    t, m = ckpt.optimizer_flat("o", opt)
    r_t, r_m = ckpt.rng_snapshot()
    path = tmp_path / "c.safetensors"
    ckpt.save_checkpoint(path, {**tensors, **t, **r_t}, {"o": m, "rng": r_m})
    expected_draws = (torch.rand(3), np.random.rand(2), random.random())

    loaded_t, meta = ckpt.load_checkpoint(path)
    model2 = torch.nn.Linear(4, 3)
    opt2 = torch.optim.AdamW(model2.parameters(), lr=1.0)
    ckpt.load_module("m", model2, loaded_t)
    ckpt.load_optimizer("o", opt2, loaded_t, json.loads(json.dumps(meta["o"])))
    ckpt.restore_rng(loaded_t, meta["rng"])
    draws = (torch.rand(3), np.random.rand(2), random.random())
    assert torch.equal(draws[0], expected_draws[0]) and np.array_equal(draws[1], expected_draws[1])
    assert draws[2] == expected_draws[2]
    x = torch.randn(8, 4)
    for m_, o_ in ((model, opt), (model2, opt2)):
        o_.zero_grad()
        m_(x).pow(2).sum().backward()
        o_.step()
    assert torch.equal(model.weight, model2.weight) and torch.equal(model.bias, model2.bias)


def test_checkpoint_file_is_not_a_pickle(tmp_path):
    path = tmp_path / "c.safetensors"
    ckpt.save_checkpoint(path, {"w": torch.ones(2)}, {"a": 1})
    head = path.read_bytes()[:16]
    assert not head.startswith(b"\x80")  # pickle protocol marker
    assert not path.read_bytes().startswith(b"PK")  # torch.save zip archive


def test_prune_keeps_newest(tmp_path):
    for s in (1, 2, 3, 4):
        ckpt.save_checkpoint(ckpt.checkpoint_path(tmp_path, s), {"w": torch.ones(1)}, {})
    ckpt.prune_checkpoints(tmp_path, 2)
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path)] == [3, 4]


def test_a_killed_writer_s_temporary_files_are_removed_when_the_run_is_taken_again(tmp_path):
    from seqrl.sources import make_trainer, resume
    from tests.conftest import tiny_config

    run = tmp_path / "run"
    make_trainer(tiny_config("optim.steps=2", "run.checkpoint_every=2"), run).fit()
    stale = [run / "checkpoints" / "step-000000004.safetensors.999-abcd.tmp", run / "config.yaml.999-abcd.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    resume(run, lock=True).release()  # a finished run: nothing trains, the directory is still tidied
    assert not any(p.exists() for p in stale)
