"""The score-function estimator: returns, baselines, losses and the learned value head."""
