"""model.kind=hf: load (or build from its config) a local Hugging Face model and its tokenizer,
optionally with LoRA adapters (peft), and export a trained policy in Hugging Face format."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from seqrl.config.schema import Config
from seqrl.config.validate import ConfigError
from seqrl.data.hf_tokenizer import HFTokenizer
from seqrl.extras import install_hint
from seqrl.policies.base import AutoregressivePolicy
from seqrl.policies.hf import hf_specials, wrap_hf
from seqrl.policies.hf_kernels import fuse_activations

TOKENIZER_DIR = "hf_tokenizer"


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
    try:
        tokenizer = tr.AutoTokenizer.from_pretrained(str(source))
    except (OSError, ValueError) as err:
        raise ConfigError(f"model.hf_path: cannot load a tokenizer from {source}: {err}") from None
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
            torch.manual_seed(cfg.run.seed)
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
