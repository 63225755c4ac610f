"""The classic Pong-from-pixels pre-processing (Karpathy's agent) as a gymnasium observation wrapper."""
from __future__ import annotations

from typing import Any

import numpy as np

from seqrl.extras import require


def gym() -> Any:
    """gymnasium (seqrl.envs.make registers the Atari ids before this wrapper is used)."""
    return require("gymnasium", "envs", "an environment run (env.id)")


BACKGROUND = (144, 109)  # the two background colours of the red channel


def pong_frame(frame: np.ndarray) -> np.ndarray:
    """(210, 160, 3) uint8 RGB -> (80, 80) int8 in {0, 1}: crop the play field, keep every other
    pixel of the red channel, erase the background, paddles and ball become 1."""
    img = frame[35:195:2, ::2, 0]
    return ((img != BACKGROUND[0]) & (img != BACKGROUND[1]) & (img != 0)).astype(np.int8)


class PongFrames(gym().ObservationWrapper):
    """Observations become the difference of consecutive pre-processed frames, (80, 80) int8 in
    {-1, 0, 1}: motion, which one frame cannot show. The first observation of an episode is the
    first frame itself (the difference with an empty frame)."""

    def __init__(self, env: Any) -> None:
        if tuple(env.observation_space.shape) != (210, 160, 3):
            raise ValueError(f"the Pong pre-processing takes Atari RGB frames (210, 160, 3), not "
                             f"{env.observation_space}")
        super().__init__(env)
        self.observation_space = gym().spaces.Box(low=-1, high=1, shape=(80, 80), dtype=np.int8)
        self._previous = np.zeros((80, 80), dtype=np.int8)

    def reset(self, **kwargs: Any) -> Any:
        self._previous = np.zeros((80, 80), dtype=np.int8)
        return super().reset(**kwargs)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        frame = pong_frame(observation)
        diff = frame - self._previous
        self._previous = frame
        return diff
