"""CUDA runs (skipped with the reason where no GPU is present: CI has none). Run them with
`bash benchmarks/gpu_check.sh` on a machine with an NVIDIA GPU."""
import pytest
import torch

from seqrl.curriculum import StepPlan
from seqrl.tasks import collate
from seqrl.sequences.step import train_step
from seqrl.sources import make_trainer, resume
from tests.conftest import tiny_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def test_a_cuda_run_keeps_everything_on_the_gpu_and_resumes_on_the_cpu(tmp_path):
    trainer = make_trainer(tiny_config("run.device=cuda", "reinforce.baseline=value", "reinforce.kl_coef=0.05"), tmp_path)
    trainer.fit()
    assert all(p.is_cuda for p in trainer.source.policy.parameters()) and all(p.is_cuda for p in trainer.source.value_head.parameters())
    assert all(p.is_cuda for p in trainer.source.reference.policy.parameters())
    on_cpu = resume(tmp_path, overrides=["run.device=cpu", "optim.steps=28"])
    assert next(on_cpu.source.policy.parameters()).device.type == "cpu" and on_cpu.state.step == 24
    on_cpu.fit()  # a GPU checkpoint trains on on the CPU
    assert on_cpu.state.step == 28


def test_the_gpu_draws_the_cpus_uniforms(tmp_path):
    rows = {}
    for device in ("cpu", "cuda"):
        trainer = make_trainer(tiny_config(f"run.device={device}", "curriculum.kind=reinforce"), tmp_path / device)
        policy, batch = trainer.source.policy, collate(trainer.source.data.train_batch(0, 16)).to(trainer.device)
        rollout = policy.sample(batch, 4, trainer.source.max_len, 1.0, torch.Generator().manual_seed(5))
        rows[device] = rollout.tokens.cpu()
    same = (rows["cpu"] == rows["cuda"]).all(dim=1).float().mean()
    assert same > 0.95, same  # the same uniforms; only a probability rounded across a boundary can differ


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_steps_stay_close_to_fp32_on_the_gpu(tmp_path, precision):
    grads = {}
    for p in ("fp32", precision):
        trainer = make_trainer(tiny_config("run.device=cuda", f"run.precision={p}", "optim.grad_clip=0"), tmp_path / p)
        trainer.source.optimizer.step = lambda *a, **k: None
        if trainer.source.scaler is not None:
            trainer.source.scaler.step = lambda opt, *a, **k: None
        examples = trainer.source.data.train_batch(0, 16)
        train_step(trainer.source.ctx, examples, collate(examples).to(trainer.device), StepPlan(False, 0), 0, trainer.state)
        # train_step unscales fp16 gradients before clipping: these are the true gradients
        grads[p] = torch.cat([q.grad.reshape(-1) for q in trainer.source.policy.parameters() if q.grad is not None])
    cosine = float(torch.nn.functional.cosine_similarity(grads[precision], grads["fp32"], dim=0))
    assert cosine > 0.99, cosine
