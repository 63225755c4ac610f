"""`seqrl sample` and `seqrl eval` for an environment run: play episodes with a trained policy,
report their returns, and optionally write one episode as an animated GIF."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from seqrl.config import ConfigError
from seqrl import seeds
from seqrl.envs.make import make_one
from seqrl.envs.policy import encode

SAMPLE_STEP = -2  # `seqrl sample` seeds its episodes as "step -2 - seed": apart from training and validation


def sample_episodes(source: Any, n: int, greedy: bool, seed: int) -> list[dict[str, Any]]:
    """n episodes (sampled, or greedy) on the run's environment; their returns and lengths."""
    source.policy.eval()
    with torch.no_grad():
        eps = source.play(SAMPLE_STEP - seed, n, greedy=greedy)
    return [{"episode": i, "return": float(r), "length": int(t)}
            for i, (r, t) in enumerate(zip(eps.returns(), eps.lengths))]


def write_gif(source: Any, path: Path, greedy: bool, seed: int, fps: int = 30, max_frames: int = 5000) -> dict[str, Any]:
    """Play one episode on a rendering environment and write its frames to `path` (GIF)."""
    from PIL import Image

    if path.suffix.lower() != ".gif":
        raise ConfigError(f"--video {path}: only .gif is written (Pillow, installed with matplotlib)")
    # rgb_array rendering draws off-screen: no display or sound device (SDL would complain on
    # stderr that XDG_RUNTIME_DIR is not set, on a run that succeeds)
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    env = make_one(source.cfg, render=True, evaluation=True)()
    generator = seeds.sampling(source.cfg.run.seed, SAMPLE_STEP - seed)
    frames, total, steps = [], 0.0, 0
    try:
        obs, _ = env.reset(seed=seeds.env_reset(source.cfg.run.seed, SAMPLE_STEP - seed, 0))
        source.policy.eval()
        while True:
            frame = env.render()
            if frame is not None and len(frames) < max_frames:
                frames.append(Image.fromarray(np.asarray(frame)))
            with torch.no_grad():
                x = encode(np.asarray(obs)[None], source.obs_space, source.device)
                action = source.act(x, greedy, generator)[1]
            obs, reward, term, trunc, _ = env.step(action[0].cpu().numpy())
            total, steps = total + float(reward), steps + 1
            if term or trunc:
                break
    finally:
        env.close()
    if not frames:
        raise ConfigError(f"{source.cfg.env.id} rendered no frames (render_mode='rgb_array')")
    try:
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(1000 / fps), loop=0)
    except OSError as err:
        raise ConfigError(f"--video {path}: cannot write it: {err.strerror or err}") from None
    return {"video": str(path), "return": total, "length": steps, "frames": len(frames)}


def evaluate_env_run(trainer: Any, out_dir: Optional[Path] = None) -> dict[str, Any]:
    """`seqrl eval` of an environment run: the validation episodes (greedy), written to
    RUN_DIR/eval/validation.greedy.step<N>.json."""
    import json

    metrics = trainer.evaluate()
    result = {"run_dir": str(trainer.run_dir), "step": trainer.state.step, "env": trainer.cfg.env.id,
              "decoding": "greedy", **metrics}
    out_dir = out_dir or trainer.run_dir / "eval"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"validation.greedy.step{trainer.state.step}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
