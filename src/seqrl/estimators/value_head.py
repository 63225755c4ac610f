"""MIXER's learned per-step baseline: a regressor on the decoder state predicting the return."""
from __future__ import annotations

from torch import Tensor, nn


class ValueHead(nn.Module):
    """b_t = w . h_t + c, fitted by squared error to the return-to-go.

    The decoder features are detached on the way in, so the regression loss never reaches the
    policy; the trainer detaches b_t in the advantage, so the policy loss never reaches it.
    """

    def __init__(self, feature_dim: int, hidden: int = 0) -> None:
        super().__init__()
        if hidden > 0:
            self.net: nn.Module = nn.Sequential(
                nn.Linear(feature_dim, hidden), nn.Tanh(), nn.Linear(hidden, 1)
            )
        else:
            self.net = nn.Linear(feature_dim, 1)

    def forward(self, features: Tensor) -> Tensor:
        """(N, T, H) -> (N, T) predicted return."""
        return self.net(features.detach()).squeeze(-1)
