"""Where a run computes (`run.device`) and in which precision (`run.precision`).

`resolve_device("auto")` is CUDA when available (in a torchrun job: the GPU of LOCAL_RANK), else
the CPU. Everything a step computes lives there: the policy, learned baseline, KL reference,
batches, rollouts and losses. Two things stay on the CPU on purpose: the sampling uniforms are
drawn from a CPU generator seeded by (seed, step) and then moved, so a run is reproducible from
the step alone and a CPU run's draws are exactly those of a GPU run (the samples can still
differ where the two devices round a probability differently); and checkpoints are written from
CPU copies, so they load on any device.

`precision`: fp32, or autocast to bf16 / fp16 around the forward passes (fp16 with a gradient
scaler). Log-probabilities (the output layer's logits are cast to float32 before the softmax),
advantages and losses are computed in float32.
"""
from __future__ import annotations

import contextlib
import os
import re
from typing import Any, ContextManager, Optional

import torch

from seqrl.config.run_schema import DEVICE_SPEC
from seqrl.config.validate import ConfigError

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_device_spec(spec: str) -> None:
    if not re.match(DEVICE_SPEC, spec):
        raise ConfigError(f"run.device: {spec!r} is not one of auto, cpu, cuda, cuda:N, mps")


def resolve_device(spec: str, local_rank: Optional[int] = None) -> torch.device:
    """run.device -> a torch.device that exists here, or ConfigError naming what is missing."""
    check_device_spec(spec)
    if local_rank is None and "LOCAL_RANK" in os.environ:
        local_rank = int(os.environ["LOCAL_RANK"])
    original = spec
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"run.device={spec}: CUDA is not available here (torch {torch.__version__}, "
                              f"built with CUDA {torch.version.cuda}); use run.device=cpu or auto")
        index = int(spec.split(":")[1]) if ":" in spec else (local_rank or 0)
        count = torch.cuda.device_count()
        if index >= count and ":" not in spec and local_rank:  # torchrun: one GPU per local rank
            raise ConfigError(f"run.device={original}: local rank {local_rank} needs GPU {index}, but there are "
                              f"{count} CUDA device(s); start at most {count} process(es) per machine "
                              f"(torchrun --nproc-per-node={count}) or set run.device=cpu (gloo)")
        if index >= count:
            raise ConfigError(f"run.device={spec}: there are {count} CUDA device(s)")
        return torch.device("cuda", index)
    if spec == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("run.device=mps: the MPS backend is not available here")
    return torch.device(spec)


def autocast(device: torch.device, precision: str) -> ContextManager[Any]:
    """Autocast to bf16/fp16 on `device` (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[precision])


def grad_scaler(device: torch.device, precision: str) -> Optional[torch.amp.GradScaler]:
    """fp16 needs loss scaling (its range underflows small gradients); bf16 and fp32 do not."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None
