"""Stochastic computation graphs: REINFORCE through any PyTorch program with sampled nodes."""
from seqrl.graph.diagnostics import measure
from seqrl.graph.dice import dice_objective, magic_box
from seqrl.graph.graph import BASELINES, Graph, MovingAverage

__all__ = ["BASELINES", "Graph", "MovingAverage", "dice_objective", "magic_box", "measure"]
