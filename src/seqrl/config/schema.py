"""The run configuration: the sequence sections and `Config`, which holds every section and
checks the settings that span sections. Field docstrings (the `doc` metadata) double as CLI help.

The run section is in config.run_schema, the environment sections in config.env_schema.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, Optional

from seqrl.config.env_schema import EnvConfig, QConfig
from seqrl.config.fields import meta
from seqrl.kinds import KINDS, SEQUENCE, kind_of, sections_of
from seqrl.config.reinforce_schema import ReinforceConfig
from seqrl.config.run_schema import DIAGNOSTIC_BASELINES, RunConfig


@dataclass(frozen=True)
class TaskConfig:
    name: str = meta("built-in task (see `seqrl list`)", default="reverse")
    symbols: int = meta("number of distinct digit symbols for copy/reverse/sort/repeat_copy", 2, 10, 10)
    train_min_len: int = meta("shortest training input", 1, 64, 1)
    train_max_len: int = meta("longest training input", 1, 64, 8)
    val_min_len: int = meta("shortest validation input (may exceed training lengths)", 1, 64, 1)
    val_max_len: int = meta("longest validation input", 1, 64, 8)
    val_size: int = meta("number of validation examples (excluded from training)", 1, 100000, 256)
    holdout: float = meta("fraction of the input space held out for validation (never trained on)", 1e-4, 0.9, 0.1)
    reward: str = meta("reward: 'task' (the task's partial credit), 'exact_match', or 'module:function'",
                       default="task")
    per_token: bool = meta("use per-token rewards with reward-to-go instead of one sequence reward",
                           default=False)
    gamma: float = meta("discount for reward-to-go", 0.0, 1.0, 1.0)
    reward_workers: int = meta(
        "worker processes computing rewards (0 = in the training process); for slow rewards. Each "
        "worker gets one batched call per step holding whole groups of k samples; the reward must be "
        "picklable (a module-level function)", 0, 256, 0)
    reward_timeout: Optional[float] = meta(
        "seconds one reward call may take before the run stops with an error naming the step and the "
        "samples (0 = no limit; null = 300). Workers are killed at the limit; in the training process "
        "(reward_workers=0) a timer interrupts the reward's Python code (a reward stuck in one C call is "
        "stopped when that call returns: use workers for a hard limit)",
        0.0, 1e7, None)

    def __post_init__(self) -> None:
        if self.train_min_len > self.train_max_len:
            raise ValueError(f"task.train_min_len ({self.train_min_len}) > task.train_max_len ({self.train_max_len})")
        if self.val_min_len > self.val_max_len:
            raise ValueError(f"task.val_min_len ({self.val_min_len}) > task.val_max_len ({self.val_max_len})")
        if self.per_token and self.reward not in ("task",):
            raise ValueError("task.per_token requires task.reward='task' (the task's per-token partial credit)")


@dataclass(frozen=True)
class DataConfig:
    format: Literal["parallel", "tsv", "jsonl", "hf_disk"] = meta(
        "text data format: aligned files (prefix + source_ext/target_ext), TSV with a header, JSON lines, "
        "or a Hugging Face dataset saved with save_to_disk", default="parallel")
    train: Optional[str] = meta("training data: a file, or a path prefix for parallel files", default=None)
    valid: Optional[str] = meta("validation data, same form as data.train", default=None)
    source_ext: str = meta("parallel: suffix of the source files, e.g. .de.gz", default=".src")
    target_ext: str = meta("parallel: suffix of the target files, e.g. .en.gz", default=".tgt")
    source_key: str = meta("tsv/jsonl/hf_disk: column or field of the source (hf_disk: dotted for nested, "
                           "e.g. translation.de)", default="source")
    reference_key: Optional[str] = meta(
        "tsv/jsonl/hf_disk: column or field of the reference(s); null: prompt-only data (no references, every "
        "format; needs a reward of your own, module:function, and curriculum.kind=reinforce)", default="references")
    train_split: Optional[str] = meta("hf_disk: split of data.train (null: the only split)", default="train")
    valid_split: Optional[str] = meta("hf_disk: split of data.valid (null: the only split)", default="validation")
    tokenizer: Literal["bpe", "unigram"] = meta("subword tokenizer trained on the training text", default="bpe")
    vocab_size: int = meta("subword vocabulary size (of the target, when not shared)", 16, 1_000_000, 8000)
    shared_vocab: bool = meta("one tokenizer for sources and targets; false trains one on the sources and "
                              "one on the references (encoder-decoder models only)", default=True)
    source_vocab_size: Optional[int] = meta("shared_vocab=false: source vocabulary size (null = vocab_size)",
                                            16, 1_000_000, None)
    tokenizer_path: Optional[str] = meta("load this tokenizer.json (the target's, when not shared) instead "
                                         "of training one", default=None)
    source_tokenizer_path: Optional[str] = meta("shared_vocab=false: load this source tokenizer.json",
                                                default=None)
    max_tokens: int = meta("cut sources and targets to this many tokens", 2, 4096, 64)
    keep_source: Literal["start", "end"] = meta(
        "which part of an over-long source max_tokens keeps: its start, or its end (a prompt whose question "
        "comes last; also the way to fit prompt + reinforce.max_len into a model's position limit)", default="start")
    max_chars: Optional[int] = meta("examples longer than this many characters are handled by too_long",
                                    1, 10**7, None)
    too_long: Literal["truncate", "drop", "raise"] = meta("what to do with over-long examples", default="truncate")
    empty: Literal["drop", "keep", "raise"] = meta("what to do with empty sources or references", default="drop")
    on_error: Literal["raise", "skip"] = meta("a malformed line: stop with file:line, or skip and count it",
                                              default="raise")
    max_train: Optional[int] = meta("use only the first N training examples", 1, 10**9, None)
    max_valid: Optional[int] = meta("use only the first N validation examples", 1, 10**9, None)
    stream: bool = meta("read training examples from disk as training goes (a shuffle buffer, tokenized "
                        "per batch) instead of holding them in memory: for corpora larger than memory",
                        default=False)
    shuffle_buffer: int = meta("stream: examples in the shuffle buffer", 1, 10**8, 10_000)
    metrics: str = meta("corpus metrics of validation and `seqrl eval`, comma-separated: bleu, chrf, "
                        "chrf++, ter, rouge-1, rouge-2, rouge-l, rouge-lsum", default="bleu,chrf")

    def __post_init__(self) -> None:
        from seqrl.rewards.corpus import parse_metrics

        try:
            parse_metrics(self.metrics)
        except ValueError as err:
            raise ValueError(f"data.metrics: {err}") from None


@dataclass(frozen=True)
class ModelConfig:
    kind: Literal["gru", "lstm", "transformer", "transformer_lm", "hf", "mlp", "cnn"] = meta(
        "policy network: GRU/LSTM attention seq2seq, Transformer encoder-decoder, decoder-only LM, a "
        "Hugging Face causal / encoder-decoder model (model.hf_path); for environments: mlp (vector "
        "observations: model.layers hidden layers of model.hidden_dim) or cnn (images: the Atari DQN "
        "torso, then model.hidden_dim)", default="gru")
    hf_path: Optional[str] = meta("kind=hf: a local model directory (config, weights, tokenizer)", default=None)
    hf_init: Literal["pretrained", "config"] = meta(
        "kind=hf: load the weights, or build the model from its config with fresh (seeded) weights",
        default="pretrained")
    hf_fused_activations: bool = meta(
        "kind=hf: run Python-level tanh-GELU modules (GPT-2's gelu_new, gelu_fast) as PyTorch's fused "
        "kernel for the same function (policies.hf_kernels)", default=True)
    hf_attention: Optional[str] = meta(
        "kind=hf: attention implementation passed to from_pretrained/from_config (eager, sdpa, "
        "flash_attention_2, ...; null: transformers' default)", default=None)
    lora_r: int = meta("kind=hf: LoRA rank (peft); 0 trains every weight", 0, 4096, 0)
    lora_alpha: float = meta("kind=hf: LoRA scaling alpha", 0.0, 1e6, 16.0)
    lora_dropout: float = meta("kind=hf: LoRA dropout", 0.0, 0.9, 0.0)
    lora_targets: Optional[str] = meta("kind=hf: comma-separated module names for LoRA (null: peft's "
                                       "default for the architecture)", default=None)
    embed_dim: int = meta("token embedding size (RNN)", 4, 4096, 64)
    hidden_dim: int = meta("RNN hidden size / Transformer d_model", 4, 8192, 128)
    layers: int = meta("RNN layers / Transformer decoder layers", 1, 48, 1)
    encoder_layers: int = meta("Transformer encoder layers", 1, 48, 2)
    heads: int = meta("Transformer attention heads", 1, 64, 4)
    ff_dim: int = meta("Transformer feed-forward size", 4, 32768, 256)
    dropout: float = meta("dropout probability (kind=hf: replaces every dropout of the model; 0 = off, "
                          "as RL fine-tuning usually runs)", 0.0, 0.9, 0.0)
    activation: Literal["tanh", "relu"] = meta("mlp/cnn: activation of the hidden layers", default="tanh")

    def __post_init__(self) -> None:
        if self.kind == "hf" and not self.hf_path:
            raise ValueError("model.kind=hf needs model.hf_path (a local Hugging Face model directory)")
        if self.kind.startswith("transformer") and self.hidden_dim % self.heads:
            raise ValueError(f"model.hidden_dim ({self.hidden_dim}) must be divisible by model.heads ({self.heads})")
        if self.kind in ("gru", "lstm") and self.hidden_dim % 2:
            raise ValueError(f"model.hidden_dim must be even for the bidirectional encoder, got {self.hidden_dim}")


@dataclass(frozen=True)
class CurriculumConfig:
    kind: Literal["xent", "reinforce", "warmup", "mixer", "alternate"] = meta(
        "schedule from cross-entropy to REINFORCE (see `seqrl list`)", default="warmup")
    warmup_steps: int = meta("cross-entropy steps before REINFORCE starts (warmup, alternate)", 0, 10**8, 300)
    mixer_delta: int = meta("mixer: tokens moved from cross-entropy to REINFORCE per stage", 1, 4096, 2)
    mixer_every: int = meta("mixer: steps per stage", 1, 10**8, 50)
    mixer_anchor: Literal["start", "end"] = meta(
        "mixer: 'start' = s counts reference tokens from the start (MIXER's schedule over the full "
        "length); 'end' = every reference gets REINFORCE on its last full-s tokens, so short and long "
        "references move to REINFORCE together (fine-tuning a trained model)", default="start")
    xent_weight: float = meta("weight of the cross-entropy term while mixing", 0.0, 100.0, 0.5)
    p0: float = meta("alternate: REINFORCE probability when annealing starts", 0.0, 1.0, 0.1)
    span: int = meta("alternate: steps over which the probability rises to 1", 1, 10**8, 500)


@dataclass(frozen=True)
class OptimConfig:
    steps: int = meta("training steps", 1, 10**9, 800)
    batch_size: int = meta("inputs per step (each sampled k times in REINFORCE steps)", 1, 65536, 32)
    lr: float = meta("peak learning rate (Adam)", 0.0, 10.0, 2e-3)
    rl_lr: Optional[float] = meta("learning rate for REINFORCE steps; null = optim.lr", 0.0, 10.0, 3e-4)
    lr_warmup: int = meta("linear learning-rate warm-up steps", 0, 10**8, 0)
    lr_decay: Literal["constant", "linear", "cosine"] = meta("learning-rate decay after warm-up",
                                                             default="constant")
    weight_decay: float = meta("weight decay (AdamW's decoupled one; RMSprop's L2 term)", 0.0, 10.0, 0.0)
    optimizer: Literal["adamw", "rmsprop"] = meta(
        "adamw, or rmsprop (the classic Pong agent's: decay optim.rmsprop_decay)", default="adamw")
    rmsprop_decay: float = meta("rmsprop: decay of the squared-gradient average (torch's alpha)", 0.0, 0.9999, 0.99)
    grad_clip: float = meta("clip the global gradient norm to this (0 = off)", 0.0, 1e6, 1.0)


# Keys of the shared sections that only a sequence run reads (an environment run's policy and
# critic read model.kind/hidden_dim/layers/activation and reinforce.baseline/ema_decay/value_lr/
# entropy_coef/normalization): an environment run's config.yaml leaves them out.
SEQUENCE_ONLY = {
    "model": ("hf_path", "hf_init", "hf_fused_activations", "hf_attention", "lora_r", "lora_alpha", "lora_dropout",
              "lora_targets", "embed_dim", "encoder_layers", "heads", "ff_dim", "dropout"),
    "reinforce": ("samples_per_input", "temperature", "max_len", "grpo_std", "value_hidden", "kl_coef",
                  "kl_estimator", "scoring", "objective", "risk_alpha", "risk_candidates", "risk_beam",
                  "xent_coef"),
}


@dataclass(frozen=True)
class Config:
    task: TaskConfig = meta("what to learn", factory=TaskConfig)
    data: DataConfig = meta("text data files (task.name: text)", factory=DataConfig)
    model: ModelConfig = meta("the policy network", factory=ModelConfig)
    reinforce: ReinforceConfig = meta("the REINFORCE estimator", factory=ReinforceConfig)
    curriculum: CurriculumConfig = meta("from cross-entropy to REINFORCE", factory=CurriculumConfig)
    optim: OptimConfig = meta("optimisation", factory=OptimConfig)
    run: RunConfig = meta("run directory, logging, checkpoints", factory=RunConfig)
    env: EnvConfig = meta("a gymnasium environment (episode runs; env.id null: a sequence task)",
                          factory=EnvConfig)
    q: QConfig = meta("Q-learning and DQN (env.algo: q_learning, dqn)", factory=QConfig)

    def __post_init__(self) -> None:
        if self.env.id is not None:
            self._check_env()
            return
        if self.task.name == "text" and (self.data.train is None or self.data.valid is None):
            raise ValueError("task.name='text' needs data.train and data.valid")
        if self.model.kind == "hf" and self.task.name != "text":
            raise ValueError("model.kind=hf needs task.name=text (the model's tokenizer reads the data)")
        if self.model.kind == "hf" and not self.data.shared_vocab:
            raise ValueError("model.kind=hf uses the model's own tokenizer; data.shared_vocab=false does not apply")
        if self.task.name == "text" and self.data.reference_key is None and ":" not in self.task.reward:
            raise ValueError(f"task.reward={self.task.reward!r} compares outputs with references, which prompt-only "
                             "data (data.reference_key: null) does not have; use a reward of your own "
                             "(task.reward: module:function)")
        if self.task.name == "text" and self.task.per_token:
            raise ValueError("task.per_token is not available for task.name='text' (text rewards are sequence-level)")
        self._check_self_critical()
        bound = 100.0 if self.task.name == "text" else 1.0  # corpus BLEU; else exact match / success rate
        if self.run.stop_at is not None and self.run.stop_at > bound:
            what = "corpus BLEU (0 to 100)" if bound > 1 else "exact match or success rate (0 to 1)"
            raise ValueError(f"run.stop_at={self.run.stop_at}: the run stops on {what}, which never reaches it")
        if self.reinforce.objective == "risk":
            self._check_risk_run()
        if self.run.diagnostics.every and self.curriculum.kind == "xent":
            raise ValueError("run.diagnostics.every: curriculum.kind=xent never samples, so there is no REINFORCE "
                             "gradient to measure; set it to 0 or use a curriculum with REINFORCE steps")
        self.diagnostic_baselines()

    def _check_risk_run(self) -> None:
        """reinforce.objective=risk: settings of other parts that it cannot honour."""
        if self.reinforce.risk_candidates != "samples" and self.curriculum.kind == "mixer":
            raise ValueError(f"reinforce.risk_candidates={self.reinforce.risk_candidates} with curriculum.kind=mixer: "
                             "beam search does not continue MIXER's forced reference tokens; use "
                             "risk_candidates=samples or another curriculum")
        if self.run.diagnostics.every:
            raise ValueError("run.diagnostics.every measures REINFORCE's gradient under baselines; "
                             "reinforce.objective=risk has none to compare (set it to 0)")

    @property
    def kind(self) -> str:
        """The kind of run (seqrl.kinds): "sequence", or env.algo when env.id is set."""
        return kind_of(self.env.id, self.env.algo)

    def sections(self) -> tuple[str, ...]:
        """The sections this run reads, in the schema's order (`data`: text runs only)."""
        used = set(sections_of(self.kind))
        if self.kind == SEQUENCE and self.task.name != "text":
            used.discard("data")
        return tuple(f.name for f in fields(self) if f.name in used)

    def used(self) -> dict[str, Any]:
        """The sections this run reads, as plain dicts: what config.yaml, the checkpoints and the
        trackers hold (a missing section reads as its defaults, so the run loads the same)."""
        full = asdict(self)
        out = {name: full[name] for name in self.sections()}
        if self.kind != SEQUENCE:
            for section, keys in SEQUENCE_ONLY.items():
                if section in out:
                    out[section] = {k: v for k, v in out[section].items() if k not in keys}
        return out

    def _check_env(self) -> None:
        """Episode runs: the settings that have a meaning for a policy acting in an environment."""
        if self.q.epsilon_end > self.q.epsilon_start:
            raise ValueError(f"q.epsilon_end ({self.q.epsilon_end}) > q.epsilon_start ({self.q.epsilon_start})")
        if self.reinforce.baseline not in ("none", "ema", "value"):
            raise ValueError(f"reinforce.baseline={self.reinforce.baseline!r} compares samples of one input; an "
                             "environment run uses none, ema or value (a learned state-value function)")
        if self.curriculum.kind != "reinforce":
            raise ValueError(f"curriculum.kind={self.curriculum.kind!r}: an environment has no references to "
                             "train on with cross-entropy; use curriculum.kind=reinforce")
        if self.model.kind not in ("mlp", "cnn"):
            raise ValueError(f"model.kind={self.model.kind!r} is a sequence model; an environment run uses "
                             "mlp (vector observations) or cnn (images)")
        if self.reinforce.kl_coef > 0:
            raise ValueError("reinforce.kl_coef: the KL penalty is for sequence runs; set it to 0")
        if self.reinforce.xent_coef > 0:
            raise ValueError("reinforce.xent_coef: an environment has no references to train on with cross-entropy; "
                             "set it to 0")
        if self.reinforce.objective != "reinforce":
            raise ValueError(f"reinforce.objective={self.reinforce.objective}: risk compares candidate outputs of one "
                             "input, which an environment run does not have; use reinforce")
        if self.env.bootstrap_truncated and self.env.gamma >= 1:
            raise ValueError("env.bootstrap_truncated=true with env.gamma=1: V(s) would be fitted to returns that "
                             "include V itself, with no finite target; use env.gamma < 1 or bootstrap_truncated=false")
        if self.env.bootstrap_truncated and self.env.algo == "reinforce" and self.reinforce.baseline != "value":
            raise ValueError(f"env.bootstrap_truncated=true needs a value function to bootstrap from: set "
                             f"reinforce.baseline=value (it is {self.reinforce.baseline!r})")
        if self.env.algo == "q_learning" and self.q.n_step != 1:
            raise ValueError(f"q.n_step={self.q.n_step}: n-step returns are DQN's (its replay buffer); tabular "
                             "Q-learning updates one step at a time, set q.n_step to 1 or env.algo to dqn")
        if self.env.algo == "dqn" and self.q.buffer_size < self.optim.batch_size:
            raise ValueError(f"q.buffer_size ({self.q.buffer_size}) < optim.batch_size ({self.optim.batch_size}): "
                             "a DQN minibatch is drawn from the replay buffer; make the buffer larger")
        if self.run.diagnostics.every and not KINDS[self.env.algo].gradient:
            raise ValueError(f"run.diagnostics.every: env.algo={self.env.algo} has no REINFORCE gradient to measure; "
                             "set it to 0")
        self.diagnostic_baselines()

    def _check_self_critical(self) -> None:
        if self.reinforce.baseline == "self_critical":
            problem = self.self_critical_problem("reinforce.baseline=self_critical")
            if problem:
                raise ValueError(problem)

    def self_critical_problem(self, key: str) -> Optional[str]:
        """Why SCST's baseline does not fit this run (None: it does). It is the greedy decode's
        whole sequence reward, subtracted from every token's return: only consistent when each
        return equals the sequence reward."""
        why = "a sample identical to the greedy decode would get a non-zero advantage"
        if self.task.gamma < 1:
            return (f"{key} with task.gamma={self.task.gamma} < 1: the baseline is the greedy decode's undiscounted "
                    f"reward while the returns are discounted, so {why}; use task.gamma=1 or another baseline "
                    "(rloo, value)")
        if self.reinforce.kl_coef > 0 and self.reinforce.kl_estimator == "k1":
            return (f"{key} with reinforce.kl_estimator=k1: the k1 penalty is subtracted from the samples' rewards "
                    f"but not from the greedy decode's, so {why}; use reinforce.kl_estimator=k3 (a loss term) or "
                    "another baseline (rloo, value)")
        if self.task.per_token:
            return (f"{key} with task.per_token=true: the baseline is the greedy decode's whole reward while each "
                    f"token's return is its reward-to-go, so {why}; use per_token=false or another baseline "
                    "(rloo, value)")
        return None

    def diagnostic_baselines(self) -> tuple[str, ...]:
        """The baselines run.diagnostics measures: the run's own, every one this run can compute
        ('all'), or the ones listed (each checked against this run)."""
        spec, own = self.run.diagnostics.baselines, self.reinforce.baseline
        if spec == "run":
            return (own,)
        problems: dict[str, str] = {}
        if own != "value":
            problems["value"] = "needs reinforce.baseline=value (the value function is trained only then)"
        if self.env.id is not None:
            for b in ("self_critical", "rloo", "grpo"):
                problems[b] = "compares samples of one input; an environment run measures none, ema or value"
        else:
            if self.reinforce.samples_per_input < 2:
                for b in ("rloo", "grpo"):
                    problems[b] = "needs reinforce.samples_per_input >= 2 (it compares the samples of one input)"
            sc = self.self_critical_problem("self_critical")
            if sc:
                problems["self_critical"] = sc
        if spec == "all":
            return tuple(b for b in DIAGNOSTIC_BASELINES if b not in problems)
        names = tuple(dict.fromkeys(b.strip() for b in spec.split(",")))
        for b in names:
            if b in problems:
                raise ValueError(f"run.diagnostics.baselines: {b} {problems[b]}")
        return names
