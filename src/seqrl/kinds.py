"""The registry of the kinds of run: name -> the source that drives it, and what it is.

A new kind of run or algorithm is one file beside its peers (a class following
seqrl.train.source.Source) plus one line here. The registry is data only, at the bottom of the
package, so that every layer can read it without importing upward: the config validates
`env.algo` against it, `seqrl list` prints it, and seqrl.sources imports the named class when a
run of that kind is built.
"""
from __future__ import annotations

from typing import NamedTuple, Optional


class Kind(NamedTuple):
    source: str  # "module:Class", imported when a run of this kind is built
    description: str
    gradient: bool  # follows a score-function (REINFORCE) gradient: run.diagnostics can measure it
    extra: Optional[str] = None  # the optional dependencies it needs (pip install -e '.[extra]')
    sections: tuple[str, ...] = ()  # the config sections it reads besides the common `optim` and `run`


COMMON = ("optim", "run")  # the config sections every kind of run reads
SEQUENCE_SECTIONS = ("task", "data", "model", "reinforce", "curriculum")


SEQUENCE = "sequence"  # env.id null: a sequence task

KINDS: dict[str, Kind] = {
    SEQUENCE: Kind("seqrl.sequences.source:SequenceSource",
                   "a sequence task (env.id null): REINFORCE / cross-entropy curricula on a generator", True,
                   sections=SEQUENCE_SECTIONS),
    "reinforce": Kind("seqrl.envs.reinforce_source:ReinforceSource",
                      "episodic REINFORCE with the none/ema/value baselines (env.id: any gymnasium id; model.kind: "
                      "mlp or cnn)", True, "envs", ("env", "model", "reinforce")),
    "a2c": Kind("seqrl.envs.a2c_source:A2CSource",
                "advantage actor-critic: GAE(lambda) advantages from a learned critic (env.gae_lambda) on whole "
                "episodes", False, "envs", ("env", "model", "reinforce")),
    "q_learning": Kind("seqrl.envs.qlearning_source:QLearningSource",
                       "tabular Q-learning (Discrete observations and actions)", False, "envs", ("env", "q")),
    "dqn": Kind("seqrl.envs.dqn_source:DQNSource",
                "DQN: Q-network, replay buffer, target network, double DQN optional", False, "envs",
                ("env", "model", "q")),
}

ENV_ALGOS: tuple[str, ...] = tuple(name for name in KINDS if name != SEQUENCE)  # env.algo's choices


def kind_of(env_id: Optional[str], algo: str) -> str:
    """The kind of a run: a sequence task when env.id is null, else env.algo."""
    return SEQUENCE if env_id is None else algo


def sections_of(kind: str) -> tuple[str, ...]:
    """The config sections a run of `kind` reads, in the schema's order of the common ones last."""
    return KINDS[kind].sections + COMMON
