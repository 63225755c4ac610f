"""Data-parallel training under torchrun: 2 CPU processes (gloo) end with identical weights equal
to a single-process run on the same global batch; a failing or hanging rank stops the job."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from seqrl.sources import make_trainer
from tests.conftest import tiny_config

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ["optim.steps=10", "curriculum.warmup_steps=4", "reinforce.baseline=rloo", "run.eval_every=5",
          "run.checkpoint_every=5"]


def torchrun(out: Path, *overrides: str, env: dict | None = None, timeout: float = 240):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(ROOT / "tests" / "train" / "ddp_worker.py"), str(out), *overrides]
    full_env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}", "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("variant", [[], ["reinforce.baseline=value", "curriculum.kind=mixer",
                                          "curriculum.mixer_every=3", "reinforce.normalization=token"],
                                     ["reinforce.xent_coef=0.5"]],
                         ids=["rloo", "mixer-value-token", "xent-coef"])
def test_two_ranks_equal_one_process_on_the_same_global_batch(tmp_path, variant):
    proc = torchrun(tmp_path, *CONFIG, *variant)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert all(torch.equal(r0[k], r1[k]) for k in r0)  # DDP keeps the replicas identical
    single = make_trainer(tiny_config(*CONFIG, *variant), tmp_path / "single")
    single.fit()
    ref = single.source.policy.state_dict()
    worst = max(float((ref[k] - r0[k]).abs().max()) for k in ref)
    assert worst < 1e-5, worst  # same samples, same update; only the summation order differs
    assert (tmp_path / "run" / "metrics.jsonl").exists()  # rank 0 wrote the run directory


@pytest.mark.parametrize("mode", ["raise", "hang"])
def test_a_failing_rank_stops_the_whole_run(tmp_path, mode):
    started = time.perf_counter()
    proc = torchrun(tmp_path, *CONFIG, "run.dist_timeout=10",
                    env={"FAIL_RANK": "1", "FAIL_MODE": mode, "FAIL_STEP": "3"}, timeout=180)
    assert proc.returncode != 0
    assert time.perf_counter() - started < 150
    assert not (tmp_path / "rank0.safetensors").exists()
