"""Where Pong's training time goes: the Atari emulator's frames/s side by side (gymnasium's sync and
async vector envs, envpool when installed) against the frames/s of a real training run.

    python benchmarks/atari_throughput.py [--steps 1500] [--train-seconds 60] [--quick]

Every emulator row steps 4 ALE/Pong-v5 environments (frameskip 4, no sticky actions, raw RGB
frames, the same seeded random actions) for `--steps` vector steps and reports environment frames
per second (vector steps x 4 envs x frameskip 4). The training rows run configs/pong.yaml
(1 torch thread) for `--train-seconds` with env.vectorization sync and async. If the emulator
alone runs at F frames/s and training at f, the emulator is about f/F of the training time: the
most a faster emulator (envpool) could save. Results: benchmarks/results/atari_throughput.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

N_ENVS, FRAMESKIP, ENV_ID = 4, 4, "ALE/Pong-v5"


def timed_steps(step: Callable[[np.ndarray], Any], steps: int) -> float:
    """Frames per second of `steps` vector steps of seeded random actions (6 Pong actions)."""
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 6, size=(steps, N_ENVS))
    began = time.perf_counter()
    for a in actions:
        step(a)
    return steps * N_ENVS * FRAMESKIP / (time.perf_counter() - began)


def gymnasium_fps(mode: str, steps: int) -> float:
    from seqrl.envs.make import gym

    gymnasium = gym()
    fns = [lambda: gymnasium.make(ENV_ID, repeat_action_probability=0.0) for _ in range(N_ENVS)]
    envs = (gymnasium.vector.AsyncVectorEnv if mode == "async" else gymnasium.vector.SyncVectorEnv)(fns)
    try:
        envs.reset(seed=list(range(N_ENVS)))
        return timed_steps(envs.step, steps)
    finally:
        envs.close()


def envpool_fps(threads: int, steps: int) -> float:
    import envpool

    envs = envpool.make(ENV_ID.split("/")[1], env_type="gymnasium", num_envs=N_ENVS, batch_size=N_ENVS,
                        num_threads=threads, img_height=210, img_width=160, stack_num=1, gray_scale=False,
                        frame_skip=FRAMESKIP, noop_max=1, episodic_life=False, reward_clip=False,
                        repeat_action_probability=0.0, seed=0)
    envs.reset()
    return timed_steps(envs.step, steps)


def training_fps(vectorization: str, seconds: float, work: Path) -> dict[str, Any]:
    """frames/s of configs/pong.yaml trained for `seconds` (a child process: its own clean start)."""
    out = work / f"pong-{vectorization}.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "pong_benchmark.py"), "--minutes", str(seconds / 60),
           "--run-dir", str(work / f"pong-{vectorization}"), "--out", str(out), f"env.vectorization={vectorization}",
           "run.trackers=none"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"pong_benchmark.py failed:\n{proc.stderr[-3000:]}")
    res = json.loads(out.read_text())
    return {"frames_per_s": res["frames_per_s"], "frames": res["frames"], "train_seconds": res["train_seconds"]}


def markdown(res: dict[str, Any]) -> str:
    lines = [f"{res['machine']}, {res['date']}: ALE/Pong-v5 frames per second, {N_ENVS} environments, frameskip "
             f"{FRAMESKIP}, no sticky actions ({res['steps']} vector steps of random actions per emulator row; "
             f"training rows: configs/pong.yaml for {res['train_seconds']:g} s, 1 torch thread).", "",
             "| what | frames/s | share of the emulator-alone rate |", "|---|---|---|"]
    base = res["emulator"]["gymnasium sync"]
    for name, fps in {**res["emulator"], **{f"training, {k}": v["frames_per_s"] for k, v in res["training"].items()}}.items():
        lines.append(f"| {name} | {fps:,.0f} | {fps / base:.2f} |")
    if res.get("envpool_missing"):
        lines += ["", f"envpool not measured: {res['envpool_missing']}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--train-seconds", type=float, default=60.0)
    p.add_argument("--quick", action="store_true", help="a smoke test: 50 steps, 3 s of sync training, results in --work")
    p.add_argument("--work", default="runs/atari-throughput")
    p.add_argument("--out", default="benchmarks/results/atari_throughput.json")
    args = p.parse_args()
    if args.quick:
        args.steps, args.train_seconds = min(args.steps, 50), min(args.train_seconds, 3.0)
    from measure import cpu_flags, cpu_model, write_results  # beside this script

    work = (ROOT / args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    emulator = {f"gymnasium {m}": gymnasium_fps(m, args.steps) for m in ("sync", "async")}
    missing = None
    try:
        for threads in (1, 2):
            emulator[f"envpool, {threads} thread{'s' if threads > 1 else ''}"] = envpool_fps(threads, args.steps)
    except ImportError as err:
        missing = f"{err} (pip install envpool)"
    training = {m: training_fps(m, args.train_seconds, work) for m in (("sync",) if args.quick else ("sync", "async"))}
    res = {"machine": f"{cpu_model()} ({os.cpu_count()} cores)", "isa": cpu_flags(), "date": time.strftime("%Y-%m-%d"),
           "steps": args.steps, "train_seconds": args.train_seconds, "n_envs": N_ENVS, "frameskip": FRAMESKIP,
           "emulator": emulator, "training": training, "envpool_missing": missing}
    out = work / "atari_throughput.json" if args.quick else (ROOT / args.out).resolve()
    write_results(res, out, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
