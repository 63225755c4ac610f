"""YAML files and `key=value` overrides -> Config."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

from seqrl.config.schema import Config
from seqrl.config.validate import ConfigError, from_dict, to_dict


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read config {path}: {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(err, 'problem', err)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply `section.key=value` strings (values parsed as YAML) to a nested dict copy."""
    out: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"override key {key!r} must be section.key, e.g. optim.lr=1e-3")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        section = out.setdefault(parts[0], {})
        if not isinstance(section, dict):
            raise ConfigError(f"{parts[0]}: expected a mapping of keys, got {section!r}")
        section[parts[1]] = value
    return out


def load_config(path: Optional[str | Path] = None, overrides: Iterable[str] = ()) -> Config:
    """Read a YAML config (or the defaults: the demo) and apply overrides; validated."""
    data = _read_yaml(Path(path)) if path is not None else {}
    return from_dict(Config, apply_overrides(data, overrides))


def save_config(cfg: Config, path: Path) -> None:
    """Write the config as YAML atomically (a temporary file unique to this writer, then rename)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False), encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
