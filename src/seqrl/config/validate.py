"""dict <-> Config with one clear error per problem, before any compute."""
from __future__ import annotations

import dataclasses
import difflib
import math
import reprlib
import types
from typing import Any, Literal, Optional, Union, get_args, get_origin, get_type_hints

from seqrl.run.errors import ConfigError  # re-exported: seqrl.config.ConfigError

__all__ = ["ConfigError", "from_dict", "to_dict", "describe", "short"]


class _NotFinite(ConfigError):
    """NaN or infinity for a float key: said as such even where null is allowed too."""


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict = 2, 60, 60, 5, 4


def short(value: Any) -> str:
    """A bounded repr for messages (a value may be huge or deeply nested)."""
    return _REPR.repr(value)


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _check_value(key: str, value: Any, tp: Any) -> Any:
    """Return `value` converted to `tp` or raise ConfigError naming `key`."""
    origin = get_origin(tp)
    if isinstance(value, str) and not value.strip() and (tp is str or str in get_args(tp)):
        raise ConfigError(f"{key}: an empty string; leave the key out or write null for none")
    if origin in (Union, types.UnionType):
        for option in get_args(tp):
            try:
                return _check_value(key, value, option)
            except _NotFinite:
                raise
            except ConfigError:
                continue
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {short(value)}")
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{key}: expected null, got {short(value)}")
    if origin is Literal:
        if value in get_args(tp):
            return value
        close = difflib.get_close_matches(short(value), [str(a) for a in get_args(tp)], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{key}: {short(value)} is not allowed; expected {_type_name(tp)}{hint}")
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        number: Optional[float] = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):  # PyYAML reads 1e-3 (no dot) as a string
            try:
                number = float(value)
            except ValueError:
                pass
        if number is not None:
            if not math.isfinite(number):
                raise _NotFinite(f"{key}: {short(value)} is not a finite number")
            return number
    elif tp is str:
        if isinstance(value, str):
            return value
    elif tp is dict:  # a free mapping (env.kwargs): string keys, values checked by their consumer
        if isinstance(value, dict):
            return dict(value)
    elif dataclasses.is_dataclass(tp):
        return from_dict(tp, value, prefix=key)
    else:  # pragma: no cover - schema uses only the types above
        raise ConfigError(f"{key}: unsupported type {tp}")
    raise ConfigError(f"{key}: expected {_type_name(tp)}, got {type(value).__name__} {short(value)}")


def _check_range(key: str, value: Any, f: dataclasses.Field) -> None:
    lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"{key}: {value!r} is out of range; allowed {lo} .. {hi}")


def from_dict(cls: type, data: Any, prefix: str = "") -> Any:
    """Build the frozen dataclass `cls` from nested dicts, checking keys, types and ranges."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping of keys, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else str(name)
        if name not in fields:
            close = difflib.get_close_matches(str(name), list(fields), n=1)
            hint = f"; did you mean {(prefix + '.' if prefix else '') + close[0]!r}?" if close else ""
            allowed = ", ".join(fields)
            raise ConfigError(f"unknown key {short(key)}{hint} (allowed here: {allowed})")
        checked = _check_value(key, value, hints[name])
        _check_range(key, checked, fields[name])
        kwargs[name] = checked
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as err:
        raise ConfigError(str(err)) from None


def to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain dict of a config dataclass (YAML/JSON-ready)."""
    return dataclasses.asdict(cfg)


def describe(cls: type, prefix: str = "") -> list[tuple[str, str, Any, str]]:
    """(key, type, default, doc) for every leaf field, for help output."""
    rows = []
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}.{f.name}" if prefix else f.name
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            rows.extend(describe(tp, key))
        else:
            default = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
            rows.append((key, _type_name(tp), default, f.metadata.get("doc", "")))
    return rows
