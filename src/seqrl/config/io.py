"""YAML files and `key=value` overrides -> Config."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

from seqrl.config.kind_defaults import with_kind_defaults
from seqrl.config.schema import Config
from seqrl.run.atomic import temporary_name
from seqrl.config.validate import ConfigError, from_dict, short


MAX_DEPTH = 32  # nesting levels a config may have (it needs 2)
MAX_NODES = 100_000  # YAML nodes after expanding aliases (an "alias bomb" expands to billions)


class _Problem(Exception):
    def __init__(self, message: str, mark: Any = None) -> None:
        super().__init__(message)
        self.mark = mark


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses repeated keys instead of keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: construct_mapping reports it
                continue
            if first is not None:
                raise _Problem(f"key {key!r} is repeated (first at line {first})", key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def _check_shape(node: yaml.Node) -> None:
    """Refuse documents nested deeper than MAX_DEPTH or expanding to more than MAX_NODES nodes.
    Sizes are memoised per node, so a shared (aliased) node is measured once."""
    sizes: dict[int, int] = {}

    def size(n: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise _Problem(f"nests deeper than {MAX_DEPTH} levels", n.start_mark)
        if id(n) in sizes:
            return sizes[id(n)]
        children = [c for pair in n.value for c in pair] if isinstance(n, yaml.MappingNode) else (
            n.value if isinstance(n, yaml.SequenceNode) else [])
        total = 1 + sum(size(c, depth + 1) for c in children)
        if total > MAX_NODES:
            raise _Problem(f"expands to more than {MAX_NODES} values (YAML aliases repeated inside each other)")
        sizes[id(n)] = total
        return total

    size(node, 0)


def _decode(path: Path, raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(f"{path}: the file is UTF-16 text; save it as UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[err.start]:02x}); save the file "
                          "as UTF-8") from None


def _decimal_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    """YAML 1.1 reads 010 as octal 8 and 1:30 as 90: a config means the decimal number it shows.
    Leading zeros are read as decimal; any other integer form (0x.., 0b.., 0o.., 1_000, a:b) is
    YAML's own."""
    text = node.value.replace("_", "") if "_" in node.value else node.value
    if re.fullmatch(r"[-+]?0[0-9]+", text):
        return int(text, 10)
    return loader.construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _decimal_int)
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?0[0-9]+$"), list("-+0"))  # 08, 09: not octal


def _parse_value(raw: str) -> Any:
    """One override's value, read as YAML by the config's own loader (leading zeros decimal)."""
    loader = _Loader(raw)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read config {path}: {err.strerror}") from None
    text = _decode(path, raw)
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is not None:
            _check_shape(node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        if isinstance(err, yaml.reader.ReaderError):
            line = text[: err.position].count("\n") + 1
            raise ConfigError(f"{path}:{line}: character #x{err.character:04x} is not allowed in YAML") from None
        raise ConfigError(f"{where}: invalid YAML: {' '.join(str(getattr(err, 'problem', None) or err).split())}") from None
    except _Problem as err:
        where = f"{path}:{err.mark.line + 1}" if err.mark is not None else str(path)
        raise ConfigError(f"{where}: {err}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nests too deeply to be a config") from None
    finally:
        if loader is not None:
            loader.dispose()
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply `section.key=value` (or `section.sub.key=value`) strings, values parsed as YAML, to a
    nested dict copy."""
    out = _copy_sections(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        if len(parts) < 2 or not all(parts):
            raise ConfigError(f"override key {key!r} must be section.key, e.g. optim.lr=1e-3")
        try:
            value = _parse_value(raw) if raw.strip() else None
        except (yaml.YAMLError, RecursionError):
            value = raw
        section = out
        for depth, name in enumerate(parts[:-1]):
            if section.get(name) is None:  # a missing or empty section (`optim:` with nothing under it)
                section[name] = {}
            if not isinstance(section[name], dict):
                raise ConfigError(f"{'.'.join(parts[: depth + 1])}: expected a mapping of keys, got {short(section[name])}")
            section = section[name]
        section[parts[-1]] = value
    return out


def _copy_sections(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of the nested dicts (leaf values shared)."""
    return {k: (_copy_sections(v) if isinstance(v, dict) else v) for k, v in data.items()}


def load_config(path: Optional[str | Path] = None, overrides: Iterable[str] = ()) -> Config:
    """Read a YAML config (or the defaults: the demo) and apply overrides; validated."""
    data = _read_yaml(Path(path)) if path is not None else {}
    return from_dict(Config, with_kind_defaults(apply_overrides(data, overrides)))


def save_config(cfg: Config, path: Path) -> None:
    """Write the sections the run reads (Config.used) as YAML atomically (a temporary file unique
    to this writer, then rename)."""
    tmp = temporary_name(path)
    try:
        tmp.write_text(yaml.safe_dump(cfg.used(), sort_keys=False), encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
