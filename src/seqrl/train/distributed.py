"""Data-parallel training over processes started by `torchrun` (torch.distributed).

Every process builds the same Trainer. Each step, every rank computes the same global batch
(a pure function of (seed, step)), keeps its contiguous share of the inputs (`World.shard`),
samples and scores those, and the gradients are all-reduced by DistributedDataParallel.
Normalisers (sequences, tokens) are summed over ranks and the loss is scaled by the world size,
which cancels DDP's averaging: the update equals a single process's on the whole batch.

Sampling streams: rank r draws the uniforms of the WHOLE step (one per row per token, a pure
function of (seed, step)) and uses the slice of its own rows, so its samples are exactly those a
single process would draw for them: distinct across ranks, reproducible, and a distributed run
equals a single-process one (tested). Dropout draws from the global RNG, which in distributed
mode is reseeded every step from (seed, step, rank) so resume stays exact without saving every
rank's RNG. Only rank 0 validates, logs and writes checkpoints; the stop decision is broadcast.
A rank that fails or hangs makes the others' next collective fail after `run.dist_timeout`
seconds, and torchrun then stops the whole job.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    device: torch.device = torch.device("cpu")  # where this rank computes (and its collectives run)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, n: int, rank: int | None = None) -> tuple[int, int]:
        """[lo, hi) of this rank's inputs among n, contiguous, sizes differing by at most one."""
        r = self.rank if rank is None else rank
        base, extra = divmod(n, self.size)
        lo = r * base + min(r, extra)
        return lo, lo + base + (1 if r < extra else 0)

    def total(self, value: float) -> float:
        """Sum of `value` over ranks (the value itself in one process)."""
        if not self.distributed:
            return float(value)
        t = torch.tensor([float(value)], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t.item())

    def all_sum_(self, tensors: list[torch.Tensor]) -> None:
        """In-place sum over ranks (e.g. gradients of a module outside DDP)."""
        if self.distributed:
            for t in tensors:
                dist.all_reduce(t)


def init_world(timeout_s: float, device: torch.device = torch.device("cpu")) -> World:
    """The World of a process started by torchrun (WORLD_SIZE > 1), else a single process: NCCL
    between GPUs (one process per GPU, LOCAL_RANK's), gloo between CPU processes."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World(device=device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    return World(dist.get_rank(), dist.get_world_size(), device)
