"""Training: state, checkpoints, the step and the loop."""
