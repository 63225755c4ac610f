"""Checkpoints: one safetensors file per save, written atomically, loaded without unpickling.

A file holds named tensors (weights, optimizer moments, RNG states) and a JSON document in the
safetensors metadata (counters, optimizer hyper-parameters, RNG states that are not tensors, the
run's config), plus a SHA-256 of both. It is written to a temporary name unique to the writer,
flushed to disk, then renamed over the final name, so a killed process leaves either the previous
checkpoint or the new one, never a torn file; a failed write (a full disk) removes its temporary
file and leaves the previous checkpoint as it was.

Loading verifies the file before anything is restored: readable safetensors, the checksum, and
finite weights and optimizer moments. Any problem is a `CheckpointError` naming the file.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from seqrl.run.atomic import temporary_name
from seqrl.run.errors import CheckpointError, ConfigError

log = logging.getLogger("seqrl")
_NAME = re.compile(r"^step-(\d{9})\.safetensors$")


def checkpoint_path(directory: Path, step: int) -> Path:
    return directory / f"step-{step:09d}.safetensors"


def step_of(path: Path) -> int | None:
    """The step in a series checkpoint's file name (None for other names, e.g. best)."""
    m = _NAME.match(Path(path).name)
    return int(m.group(1)) if m else None


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """(step, path) of complete checkpoints, oldest first; temporary files are ignored."""
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)


BEST = "best.safetensors"


def resolve_init(path: str | Path) -> tuple[Path, Path | None]:
    """`run.init_from` -> (checkpoint file, the run directory it belongs to or None).

    A file is used as given; a run directory means its best validation checkpoint, else its
    latest one. Raises FileNotFoundError naming what is missing.
    """
    p = Path(path)
    if p.is_file():
        return p, p.parent.parent if p.parent.name == "checkpoints" else None
    if not p.is_dir():
        raise FileNotFoundError(f"{p} is neither a checkpoint file nor a run directory")
    directory = p / "checkpoints"
    if (directory / BEST).is_file():
        return directory / BEST, p
    found = list_checkpoints(directory)
    if not found:
        raise FileNotFoundError(f"{p} has no checkpoint ({directory} is empty or missing)")
    return found[-1][1], p


def digest(tensors: dict[str, Tensor], meta_json: str) -> str:
    """SHA-256 of every tensor (name, dtype, shape, bytes, in name order) and the metadata text."""
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    h.update(meta_json.encode())
    return h.hexdigest()


def save_checkpoint(path: Path, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
    """Write tensors + JSON metadata + their checksum atomically to `path`; on failure (OSError,
    e.g. a full disk) the temporary file is removed and `path` is untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    contiguous = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta_json = json.dumps(meta)
    try:
        _write(contiguous, tmp, {"seqrl": meta_json, "seqrl_sha256": digest(contiguous, meta_json)})
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _write(tensors: dict[str, Tensor], path: Path, metadata: dict[str, str]) -> None:
    """safetensors' save_file, with its I/O errors (a SafetensorError naming "os error 28") raised
    as the OSError they are."""
    try:
        save_file(tensors, str(path), metadata=metadata)
    except OSError:
        raise
    except Exception as err:  # noqa: BLE001 - SafetensorError is not an OSError
        code = re.search(r"os error (\d+)", str(err))
        if code is None:
            raise
        number = int(code.group(1))
        raise OSError(number, os.strerror(number), str(path)) from None


def remove_temporary(directory: Path) -> None:
    """Delete temporary files a killed writer left behind (call while holding the run's lock)."""
    if directory.is_dir():
        for p in directory.glob("*.tmp"):
            p.unlink(missing_ok=True)


def load_checkpoint(path: Path, verify: bool = True) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Tensors and metadata of a checkpoint; safetensors + JSON only, nothing is unpickled.
    Raises CheckpointError naming the file when it is damaged (see the module doc)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    tensors: dict[str, Tensor] = {}
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            for key in f.keys():
                tensors[key] = f.get_tensor(key)
    except Exception as err:  # noqa: BLE001 - SafetensorError, OSError, ...: the file is unreadable
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt safetensors: {first})") from None
    if "seqrl" not in header:
        raise CheckpointError(f"{path}: not a seqrl checkpoint (no seqrl metadata)")
    try:
        meta = json.loads(header["seqrl"])
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path}: its metadata is not valid JSON ({err.msg})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: its metadata is not a JSON object")
    if verify:
        _verify(path, tensors, header)
    return tensors, meta


MAX_MAGNITUDE = 1e18  # no weight, optimizer moment or Q-value of a run that trained is this large


def _verify(path: Path, tensors: dict[str, Tensor], header: dict[str, str]) -> None:
    want = header.get("seqrl_sha256")
    if want is None:
        log.warning("%s has no checksum (written by an older seqrl): loaded unverified", path)
    elif digest(tensors, header["seqrl"]) != want:
        raise CheckpointError(f"{path}: checksum mismatch: the file was changed or damaged after it was written")
    for key, t in tensors.items():  # what a checksum cannot tell: values no run saves
        if not t.is_floating_point() or key.startswith("rng.") or t.numel() == 0:
            continue
        if not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise CheckpointError(f"{path}: tensor {key!r} has {bad} non-finite value(s) (NaN or inf)")
        peak = float(t.abs().max())
        if peak > MAX_MAGNITUDE:
            raise CheckpointError(f"{path}: tensor {key!r} holds a value of magnitude {peak:.3g} (beyond "
                                  f"{MAX_MAGNITUDE:g}): not a state a run saves")


def prune_checkpoints(directory: Path, keep: int) -> None:
    for _, path in list_checkpoints(directory)[:-keep]:
        path.unlink(missing_ok=True)


# -- module / optimizer / RNG <-> (tensors, json) ----------------------------------------------
def _storage_key(t: Tensor) -> tuple[int, int, tuple[int, ...]]:
    return (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape))


def module_tensors(prefix: str, module: torch.nn.Module) -> dict[str, Tensor]:
    """A module's state under `prefix.`; a tied tensor (e.g. an embedding shared with the output
    layer) is stored once, under its first name (safetensors refuses shared storage)."""
    out: dict[str, Tensor] = {}
    seen: set[tuple[int, int, tuple[int, ...]]] = set()
    for k, v in module.state_dict().items():
        key = _storage_key(v)
        if v.numel() and key in seen:
            continue
        seen.add(key)
        out[f"{prefix}.{k}"] = v
    return out


def load_module(prefix: str, module: torch.nn.Module, tensors: dict[str, Tensor]) -> None:
    start = prefix + "."
    state = {k[len(start):]: v for k, v in tensors.items() if k.startswith(start)}
    missing, unexpected = module.load_state_dict(state, strict=False)  # shape mismatches still raise
    own = module.state_dict()
    stored = {_storage_key(own[k]) for k in state if k in own}
    untied = [k for k in missing if _storage_key(own[k]) not in stored]  # tied aliases were loaded
    if untied or unexpected:
        raise RuntimeError(f"Missing key(s) in checkpoint: {untied[:5]}; unexpected key(s): {unexpected[:5]}")


def optimizer_flat(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split an optimizer state_dict into tensors and a JSON-able description."""
    sd = opt.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, entry in sd["state"].items():
        for name, value in entry.items():
            if isinstance(value, Tensor):
                tensors[f"{prefix}.state.{idx}.{name}"] = value
            else:
                scalars.setdefault(str(idx), {})[name] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def load_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    start = prefix + ".state."
    for key, value in tensors.items():
        if key.startswith(start):
            idx, name = key[len(start):].split(".", 1)
            state.setdefault(int(idx), {})[name] = value
    for idx, entry in meta["scalars"].items():
        state.setdefault(int(idx), {}).update(entry)
    groups = [dict(g, betas=tuple(g["betas"])) if "betas" in g else g for g in meta["param_groups"]]
    opt.load_state_dict({"state": state, "param_groups": groups})


def rng_snapshot() -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Global torch, numpy and python RNG states."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    tensors = {
        "rng.torch": torch.get_rng_state(),
        "rng.numpy_keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # dropout on a GPU draws from its own RNG
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = state
    meta = {
        "numpy": [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    return tensors, meta


def restore_rng(tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = sorted((int(k.rsplit(".", 1)[1]), v) for k, v in tensors.items() if k.startswith("rng.cuda."))
    if cuda and torch.cuda.is_available():  # a GPU run's; on a CPU (or fewer GPUs) the rest is unused
        for i, state in cuda[: torch.cuda.device_count()]:
            torch.cuda.set_rng_state(state, i)
    name, pos, has_gauss, cached = meta["numpy"]
    keys = tensors["rng.numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state((name, keys, pos, has_gauss, cached))
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))


def init_loader(init_from: str) -> Callable[[torch.nn.Module], None]:
    """run.init_from: a function loading the policy's weights only from another run's checkpoint
    (ConfigError naming the key for a missing file or weights that do not fit)."""
    def load(policy: torch.nn.Module) -> None:
        try:
            path, _ = resolve_init(init_from)
            tensors, _ = load_checkpoint(path)
            load_module("policy", policy, tensors)
        except (FileNotFoundError, CheckpointError) as err:
            raise ConfigError(f"run.init_from: {err}") from None
        except RuntimeError as err:  # shape mismatch: show the first offending tensor
            first = next((ln.strip() for ln in str(err).splitlines() if "mismatch" in ln or "Missing" in ln), str(err))
            raise ConfigError(f"run.init_from: cannot start from {init_from}, its weights do not fit "
                              f"this run's model section: {first}") from None
        log.info("policy initialised from %s", path)

    return load
