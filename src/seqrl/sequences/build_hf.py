"""model.kind=hf: load (or build from its config) a local Hugging Face model and its tokenizer,
optionally with LoRA adapters (peft), and export a trained policy in Hugging Face format."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from seqrl import seeds
from seqrl.config.schema import Config
from seqrl.config.validate import ConfigError
from seqrl.data.hf_tokenizer import HFTokenizer
from seqrl.extras import install_hint
from seqrl.policies.base import AutoregressivePolicy
from seqrl.policies.hf import hf_specials, wrap_hf
from seqrl.policies.hf_kernels import fuse_activations

TOKENIZER_DIR = "hf_tokenizer"
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "spiece.model", "tokenizer.model", "sentencepiece.bpe.model",
                   "vocab.txt", "source.spm")  # what save_pretrained writes for the common tokenizers
PROBE = "Hello world"


def _transformers():
    try:
        import transformers
    except ImportError as err:
        raise ConfigError(f"model.kind=hf needs the hf extra ({err}): {install_hint('hf')}") from None
    return transformers


def hf_config(cfg: Config) -> Any:
    tr = _transformers()
    path = Path(cfg.model.hf_path or "")
    if not (path / "config.json").exists():
        raise ConfigError(f"model.hf_path: no Hugging Face model at {path} (config.json missing)")
    return tr.AutoConfig.from_pretrained(str(path))


def load_hf_tokenizer(cfg: Config, run_dir: Path) -> HFTokenizer:
    """The model's tokenizer (the run directory keeps a copy, so eval needs nothing else)."""
    tr = _transformers()
    config = hf_config(cfg)
    saved = run_dir / TOKENIZER_DIR
    source = saved if saved.exists() else Path(cfg.model.hf_path or "")
    if not any((source / name).exists() for name in TOKENIZER_FILES):
        raise ConfigError(f"model.hf_path: {source} has no tokenizer (none of {', '.join(TOKENIZER_FILES)}); save "
                          "the model's tokenizer there with tokenizer.save_pretrained (README: a tokenizer for a "
                          "model built from a config)")
    try:
        tokenizer = tr.AutoTokenizer.from_pretrained(str(source))
    except (OSError, ValueError) as err:
        raise ConfigError(f"model.hf_path: cannot load a tokenizer from {source}: {err}") from None
    probe = tokenizer(PROBE, add_special_tokens=False)["input_ids"]
    if len(tokenizer) < 2 or not probe:
        raise ConfigError(f"model.hf_path: the tokenizer in {source} is empty ({len(tokenizer)} tokens; {PROBE!r} "
                          "encodes to nothing): every text would be an empty string")
    wrapped = HFTokenizer(tokenizer, hf_specials(_ConfigOnly(config), tokenizer))
    if not saved.exists():
        wrapped.save(saved)
    return wrapped


def _set_dropout(config: Any, p: float) -> Any:
    """Every dropout probability of a model config set to model.dropout (0 by default: samples and
    their gradient then come from the same network, and the KL reference matches at step 0)."""
    for name, value in list(vars(config).items()):
        if isinstance(value, float) and ("dropout" in name or "pdrop" in name):
            setattr(config, name, p)
    return config


class _ConfigOnly:
    def __init__(self, config: Any) -> None:
        self.config = config


def build_hf_policy(cfg: Config) -> AutoregressivePolicy:
    tr = _transformers()
    config = _set_dropout(hf_config(cfg), cfg.model.dropout)
    cls = tr.AutoModelForSeq2SeqLM if config.is_encoder_decoder else tr.AutoModelForCausalLM
    attention = {"attn_implementation": cfg.model.hf_attention} if cfg.model.hf_attention else {}
    try:
        if cfg.model.hf_init == "pretrained":
            model = cls.from_pretrained(cfg.model.hf_path, config=config, dtype=torch.float32, **attention)
        else:
            seeds.seed_torch(cfg.run.seed)
            model = cls.from_config(config, **attention)
    except (ValueError, ImportError) as err:
        if not attention:
            raise
        raise ConfigError(f"model.hf_attention={cfg.model.hf_attention!r}: {err}") from None
    if cfg.model.hf_fused_activations:
        fuse_activations(model)
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = cfg.model.dropout
    model.train()
    network = wrap_hf(model)
    if cfg.model.lora_r > 0:
        # LoRA layers are injected into `model` in place; the PeftModel is kept for export only
        # (not registered as a submodule, so the checkpoint holds each weight once).
        object.__setattr__(network, "peft", _lora(cfg, model))
    return AutoregressivePolicy(network)


def _lora(cfg: Config, model: Any) -> Any:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as err:
        raise ConfigError(f"model.lora_r > 0 needs peft, in the hf extra ({err}): {install_hint('hf')}") from None
    targets = [t.strip() for t in cfg.model.lora_targets.split(",")] if cfg.model.lora_targets else None
    try:
        return get_peft_model(model, LoraConfig(r=cfg.model.lora_r, lora_alpha=cfg.model.lora_alpha,
                                                lora_dropout=cfg.model.lora_dropout, target_modules=targets))
    except ValueError as err:
        raise ConfigError(f"model.lora_targets: {err}") from None


def export_hf(policy: AutoregressivePolicy, tokenizer: HFTokenizer, out: Path) -> Path:
    """Save the policy as a Hugging Face model directory (`from_pretrained` loads it back);
    LoRA adapters are merged into a copy of the weights."""
    network = policy.network
    model = network.model
    peft = getattr(network, "peft", None)
    if peft is not None:
        model = copy.deepcopy(peft).merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save(out)
    return out


def check_positions(model_config: Any, longest_prompt: int, max_len: int) -> None:
    """Refuse, before compute, prompts + completions that overrun a model's learned positions
    (GPT-2's n_positions, BART's max_position_embeddings); models with relative positions (T5)
    have no such limit."""
    cfg = model_config.get_text_config() if hasattr(model_config, "get_text_config") else model_config
    if cfg.is_encoder_decoder:
        limit, name = getattr(cfg, "max_position_embeddings", None), "max_position_embeddings"
        if limit is None:
            return
        for what, n in (("the longest source", longest_prompt), ("reinforce.max_len", max_len)):
            if n > limit:
                raise ConfigError(f"model.hf_path: {what} ({n} tokens) exceeds the model's {name} ({limit}); "
                                  "lower data.max_tokens or reinforce.max_len")
        return
    name = next((a for a in ("n_positions", "max_position_embeddings") if getattr(cfg, a, None)), None)
    if name is None:
        return
    limit = int(getattr(cfg, name))
    if longest_prompt + max_len > limit:
        raise ConfigError(f"model.hf_path: the longest prompt ({longest_prompt} tokens) + reinforce.max_len "
                          f"({max_len}) = {longest_prompt + max_len} exceeds the model's {name} ({limit}); lower "
                          "reinforce.max_len, or data.max_tokens (data.keep_source=end keeps the end of long prompts)")


def build_hf_run_policy(cfg: Config, task: Any, data: Any, max_len: int) -> AutoregressivePolicy:
    """The policy of a model.kind=hf run, refused before compute when the run's data cannot fit
    it: prompts + max_len beyond its positions, or a tokenizer larger than its output layer."""
    policy = build_hf_policy(cfg)
    train = getattr(data, "train", None)  # streamed data: sources are at most data.max_tokens long
    sources = [len(e.source) for e in (*(train or ()), *data.validation)]
    longest = max(sources) if train is not None else max(cfg.data.max_tokens, *sources)
    check_positions(policy.network.model.config, longest, max_len)
    if task.vocab.size > policy.vocab_size:
        raise ConfigError(f"model.hf_path: the tokenizer has {task.vocab.size} tokens but the "
                          f"model's output layer only {policy.vocab_size}")
    return policy
