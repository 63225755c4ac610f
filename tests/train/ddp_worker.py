"""Run by tests/train/test_distributed.py under torchrun: train a tiny config, save this rank's
final weights. Env FAIL_RANK / FAIL_MODE (raise|hang) / FAIL_STEP make one rank misbehave."""
import os
import signal
import sys
import time
from pathlib import Path

from safetensors.torch import save_file

from seqrl.sequences import source as trainer_module
from seqrl.sources import make_trainer
from tests.conftest import tiny_config

out = Path(sys.argv[1])
cfg = tiny_config(*sys.argv[2:])
rank = int(os.environ.get("RANK", "0"))
if os.environ.get("FAIL_RANK") == str(rank):
    real_step = trainer_module.train_step

    def failing(ctx, examples, batch, plan, step, state):
        if step == int(os.environ.get("FAIL_STEP", "3")):
            if os.environ.get("FAIL_MODE") == "hang":
                # Stuck in user code. The trainer turns SIGTERM into a graceful stop that would wait
                # for this step, so torchrun would wait its 30 s before SIGKILL: let SIGTERM end the
                # simulated hang at once (what is tested is that rank 0 gives up after dist_timeout).
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                time.sleep(3600)
            raise RuntimeError(f"rank {rank} fails on purpose at step {step}")
        return real_step(ctx, examples, batch, plan, step, state)

    trainer_module.train_step = failing
trainer = make_trainer(cfg, out / "run")
trainer.fit()
save_file({k: v.contiguous() for k, v in trainer.source.policy.state_dict().items()}, str(out / f"rank{rank}.safetensors"))
