"""The reinforce section: the estimator (objective, baseline, samples, KL, entropy, scoring) and
its checks that need no other section."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from seqrl.config.fields import meta


@dataclass(frozen=True)
class ReinforceConfig:
    baseline: Literal["none", "ema", "value", "self_critical", "rloo", "grpo"] = meta(
        "baseline subtracted from the reward (see `seqrl list`)", default="rloo")
    samples_per_input: int = meta("k: sequences sampled per input", 1, 4096, 8)
    temperature: float = meta("sampling temperature (the trained policy is the tempered one)", 1e-3, 100.0, 1.0)
    max_len: Optional[int] = meta("decoding budget in tokens; null = task's longest target + 1", 1, 4096, None)
    ema_decay: float = meta("decay of the moving-average baseline", 0.0, 0.9999, 0.9)
    grpo_std: bool = meta("grpo: divide by the group std", default=True)
    value_lr: float = meta("learning rate of the learned per-step baseline", 0.0, 10.0, 1e-2)
    value_hidden: int = meta("hidden units of the value regressor (0 = linear, as in MIXER)", 0, 4096, 0)
    entropy_coef: float = meta("entropy bonus coefficient", 0.0, 10.0, 0.0)
    kl_coef: float = meta("weight of the per-token KL penalty to a frozen copy of the policy at the first "
                          "REINFORCE step (0 = off)", 0.0, 100.0, 0.0)
    kl_estimator: Literal["k1", "k3"] = meta(
        "k1: log p - log p_ref subtracted from each token's reward (as TRL's RLOO); k3: "
        "p_ref/p - 1 - log(p_ref/p) added to the loss, differentiable (as GRPO)", default="k1")
    normalization: Literal["sequence", "token"] = meta(
        "average the surrogate over sequences (sum of token terms) or over tokens", default="sequence")
    scoring: Literal["auto", "sampling", "teacher"] = meta(
        "log-probs the loss differentiates: 'sampling' keeps the sampling pass's graph (no second "
        "pass; the log-probs are the ones the samples were drawn with); 'teacher' rescores the samples "
        "in one teacher-forced pass (needed by data-parallel runs; less memory for long decodes of "
        "attention models, whose sampling graph keeps every step's keys/values); 'auto': sampling in "
        "one process when max_len <= 64, else teacher", default="auto")
    objective: Literal["reinforce", "risk"] = meta(
        "reinforce: the score-function estimate under reinforce.baseline; risk: sequence-level minimum risk "
        "training, minus the expected reward under the policy renormalised over each input's candidates "
        "(estimators.risk; the set's expected reward is the baseline)", default="reinforce")
    risk_alpha: float = meta("risk: sharpness of the renormalised distribution, Q(u) proportional to "
                             "p(u)^alpha (Shen et al. 2016 use 5e-3; 1 = the policy's own odds)", 1e-6, 100.0, 1.0)
    risk_candidates: Literal["samples", "beam", "both"] = meta(
        "risk: each input's candidate set: its k samples, the reinforce.risk_beam hypotheses of beam "
        "search, or both (repeats count once)", default="samples")
    risk_beam: int = meta("risk: beam width (hypotheses per input) when risk_candidates is beam or both",
                          1, 256, 4)
    xent_coef: float = meta(
        "weight of a cross-entropy term on each input's reference added to every REINFORCE step: the mixed "
        "objective of Wu et al. 2016 (GNMT) and Paulus et al. 2018, which Edunov et al. 2018 add to risk; it "
        "holds the policy near the data while the reward moves it (0 = off)", 0.0, 100.0, 0.0)

    def __post_init__(self) -> None:
        if self.baseline in ("rloo", "grpo") and self.samples_per_input < 2 and self.objective == "reinforce":
            raise ValueError(f"reinforce.baseline={self.baseline!r} needs reinforce.samples_per_input >= 2, "
                             f"got {self.samples_per_input}")
        if self.objective == "risk":
            self._check_risk()

    def _check_risk(self) -> None:
        if self.baseline in ("ema", "value", "self_critical"):
            raise ValueError(f"reinforce.baseline={self.baseline!r} is not used by reinforce.objective=risk (the "
                             "candidates' expected reward under Q is its baseline); set reinforce.baseline to none")
        size = (self.samples_per_input if self.risk_candidates != "beam" else 0) + (
            self.risk_beam if self.risk_candidates != "samples" else 0)
        if size < 2:
            raise ValueError(f"reinforce.objective=risk with reinforce.risk_candidates={self.risk_candidates} has "
                             f"{size} candidate per input; it compares at least 2 (raise samples_per_input or "
                             "risk_beam)")
