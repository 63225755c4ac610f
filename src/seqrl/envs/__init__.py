"""Gymnasium environments as a source of episodes for the one estimator core (`pip install -e '.[envs]'`)."""
