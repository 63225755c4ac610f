"""run.device and run.precision on the CPU: devices are resolved or refused by name, and a bf16
autocast step stays within a stated tolerance of the fp32 step."""
import pytest
import torch

from seqrl.config import ConfigError, load_config
from seqrl.curriculum import StepPlan
from seqrl.tasks import collate
from seqrl.train.device import resolve_device
from seqrl.sequences.step import train_step
from seqrl.sources import make_trainer, resume
from tests.conftest import tiny_config


def test_devices_are_resolved_or_refused_by_name():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == (torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu"))
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="run.device=cuda:1: CUDA is not available here"):
            resolve_device("cuda:1")
    with pytest.raises(ConfigError, match="run.device: 'gpu' is not one of auto, cpu, cuda, cuda:N, mps"):
        load_config(None, ["run.device=gpu"])


def _step_grads(tmp_path, precision: str, reinforce: bool):
    """Loss, and the gradient of one step (no optimizer update), at the same initial weights."""
    trainer = make_trainer(tiny_config(f"run.precision={precision}", "optim.grad_clip=0", "run.device=cpu"),
                      tmp_path / precision)
    trainer.source.optimizer.step = lambda *a, **k: None  # keep the gradient, skip the update
    examples = trainer.source.data.train_batch(0, 16)
    m = train_step(trainer.source.ctx, examples, collate(examples), StepPlan(reinforce, 0), 0, trainer.state)
    grad = torch.cat([p.grad.reshape(-1) for p in trainer.source.policy.parameters() if p.grad is not None])
    return m, grad


@pytest.mark.parametrize("reinforce", [False, True], ids=["xent", "reinforce"])
def test_a_bf16_step_stays_close_to_the_fp32_step(tmp_path, reinforce):
    m32, g32 = _step_grads(tmp_path, "fp32", reinforce)
    m16, g16 = _step_grads(tmp_path, "bf16", reinforce)
    assert m16["loss"] == pytest.approx(m32["loss"], rel=0.02)  # bf16 keeps 8 bits of mantissa
    cosine = float(torch.nn.functional.cosine_similarity(g16, g32, dim=0))
    assert cosine > 0.99 and float(g16.norm() / g32.norm()) == pytest.approx(1.0, abs=0.03), cosine
    assert g16.dtype == torch.float32  # parameters and gradients stay float32 under autocast


def test_fp16_uses_a_gradient_scaler_that_survives_resume(tmp_path):
    trainer = make_trainer(tiny_config("run.precision=fp16", "optim.steps=8", "run.device=cpu"), tmp_path)
    trainer.fit()
    assert trainer.source.scaler is not None
    resumed = resume(tmp_path)
    assert resumed.source.scaler.get_scale() == trainer.source.scaler.get_scale()


@pytest.mark.parametrize("spec", ["auto", "cuda"])
def test_torchrun_with_more_local_ranks_than_gpus_is_a_config_error_naming_the_fix(monkeypatch, spec):
    """Faked on the CPU: one GPU, local rank 1 (a second process on this machine)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match=rf"run.device={spec}: local rank 1 needs GPU 1, but there are 1 CUDA "
                                          r"device\(s\); .*--nproc-per-node=1\) or set run.device=cpu"):
        resolve_device(spec, local_rank=1)
    assert resolve_device(spec, local_rank=0) == torch.device("cuda", 0)
