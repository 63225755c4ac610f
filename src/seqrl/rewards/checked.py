"""Call a user reward function and check what it returns before it reaches a loss.

A reward function follows the contract `fn(completions, references, sources, **columns)`
and returns one value per completion (`evaluate_rewards`) or one list of per-token
values per completion, len(completion) + 1 long with the EOS position last
(`evaluate_token_rewards`). A `None` entry means "not applicable to this sample": it is
marked invalid but is not an error.

Failures raise `RewardError` with the step, the sample and its rendered completion:

* fn raises (or calls sys.exit): it is called again sample by sample to find the culprit(s);
* fn does not come back: a worker process died, or the call outlived task.reward_timeout
  (`WorkerFailure`); the error names the samples the call was scoring, with no retry;
* fn returns the wrong number of values;
* a value is not a real number, or is NaN or infinite.

With on_error="skip" the samples that can be blamed (bad values, or raising on their
own) are marked invalid and counted in `skipped` instead. Errors no sample can be
blamed for (wrong length, or fn failing only on the whole batch) always raise.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from seqrl.rewards.pool import PooledReward, WorkerFailure, call_reward
from seqrl.run.signals import interruptible

Tokens = Sequence[int]
Render = Callable[[Tokens], str]
ON_ERROR = ("raise", "skip")


class RewardError(Exception):
    """A reward function failed or returned something that cannot be used as a reward."""


class RewardResult(NamedTuple):
    """values: (N,) float32 sequence rewards, or (N, T) per-token rewards; 0 where invalid.
    valid:  (N,) bool, False for None ("not applicable") and skipped samples.
    skipped: number of samples dropped because of a bad value or a failure (on_error="skip")."""

    values: Tensor
    valid: Tensor
    skipped: int


class _Invalid(Exception):
    """A single sample's value is unusable; the message says why."""


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


def _default_render(tokens: Tokens) -> str:
    return str(list(tokens))


def _as_list(raw: Any) -> Any:
    if isinstance(raw, (Tensor, np.ndarray)):
        return raw.tolist()
    return raw


def _scalar(value: Any) -> float:
    if isinstance(value, (Tensor, np.ndarray)) and value.ndim == 0:
        value = value.item()
    if not isinstance(value, numbers.Real):
        raise _Invalid(f"value {value!r} of type {type(value).__name__}, which is not a real number")
    out = float(value)
    if not math.isfinite(out):
        raise _Invalid(f"non-finite value {out}")
    return out


def _token_row(row: Any, completion: Tokens) -> list[float]:
    row = _as_list(row)
    if isinstance(row, (str, bytes)) or not isinstance(row, Sequence):
        raise _Invalid(f"value {row!r}, which is not a list of per-token rewards")
    want = len(completion) + 1
    if len(row) != want:
        raise _Invalid(f"{len(row)} token rewards but needs {want} (the completion's {len(completion)} tokens plus EOS)")
    out = []
    for t, v in enumerate(row):
        try:
            out.append(_scalar(v))
        except _Invalid as e:
            raise _Invalid(f"{e} at token {t}") from None
    return out


def _lost_call(name: str, step: int, failure: WorkerFailure, completions: Sequence[Tokens], offset: int,
               show: Render) -> RewardError:
    """A reward call that never came back, naming the step and the samples it was scoring."""
    a, b = offset + failure.start, offset + failure.end
    shown = ", ".join(repr(_cut(show(c))) for c in completions[a : min(b, a + 3)])
    more = f" and {b - a - 3} more" if b - a > 3 else ""
    which = f"sample {a}" if b - a == 1 else f"samples {a}..{b - 1}"
    return RewardError(f"reward function {name!r} at step {step}: {failure.detail}; it was scoring {which} "
                       f"(completions {shown}{more})")


def _cut(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _slice_columns(columns: Mapping[str, Any], n: int, i: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in columns.items():
        sized = isinstance(value, (list, tuple, Tensor, np.ndarray)) and len(value) == n
        out[key] = value[i : i + 1] if sized else value
    return out


def _call(fn: Callable[..., Any], args: tuple, columns: dict[str, Any]) -> Any:
    """The reward call; in this process a stop signal interrupts it at once (a reward may hang);
    worker pools handle the signal themselves (they stop their workers first)."""
    if isinstance(fn, PooledReward):
        return call_reward(fn, args, columns)
    with interruptible():
        return call_reward(fn, args, columns)


def _evaluate(
    fn: Callable[..., Any],
    completions: Sequence[Tokens],
    references: Optional[Sequence[Any]],
    sources: Sequence[Tokens],
    columns: Optional[Mapping[str, Any]],
    step: int,
    on_error: str,
    render: Optional[Render],
    convert: Callable[[Any, Tokens], Any],
) -> tuple[list[Any], list[bool], int]:
    """Converted value per sample (None where invalid), validity, and the skipped count.

    Long because: each branch is one way a user's reward can fail (raises, hangs, wrong length,
    NaN, wrong type), each with its own one-line error; they read best in sequence.
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    n = len(completions)
    if len(sources) != n:
        raise ValueError(f"sources has {len(sources)} entries but completions has {n}")
    if references is not None and len(references) != n:
        raise ValueError(f"references has {len(references)} entries but completions has {n}")
    columns = dict(columns or {})
    show = render or _default_render
    name = _name(fn)
    failed: dict[int, str] = {}

    try:
        raw = _as_list(_call(fn, (completions, references, sources), columns))
    except WorkerFailure as failure:
        raise _lost_call(name, step, failure, completions, 0, show) from None
    except Exception as batch_error:
        raw = [None] * n
        for i in range(n):
            refs_i = None if references is None else [references[i]]
            try:
                one = _as_list(_call(fn, ([completions[i]], refs_i, [sources[i]]),
                                     _slice_columns(columns, n, i)))
                if not isinstance(one, Sequence) or len(one) != 1:
                    raise _Invalid(f"returned {one!r} for a single sample instead of a list of 1 value")
                raw[i] = one[0]
            except WorkerFailure as failure:  # isolation holds during the search: never retried here
                raise _lost_call(name, step, failure, completions, i, show) from None
            except Exception as e:
                failed[i] = f"{type(e).__name__}: {e}"
                if on_error == "raise":
                    raise RewardError(
                        f"reward function {name!r} raised at step {step} on sample {i} "
                        f"(completion {show(completions[i])!r}): {failed[i]}"
                    ) from e
        if not failed:
            raise RewardError(
                f"reward function {name!r} raised at step {step}: {type(batch_error).__name__}: {batch_error} "
                f"(no single sample is to blame: each succeeds on its own)"
            ) from batch_error

    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise RewardError(f"reward function {name!r} at step {step} returned {type(raw).__name__}, expected a list of {n} values")
    if len(raw) != n:
        raise RewardError(f"reward function {name!r} at step {step} returned {len(raw)} values for {n} completions")

    values: list[Any] = [None] * n
    valid = [False] * n
    skipped = len(failed)
    for i, value in enumerate(raw):
        if i in failed or value is None:
            continue
        try:
            values[i] = convert(value, completions[i])
        except _Invalid as e:
            if on_error == "raise":
                raise RewardError(
                    f"reward function {name!r} at step {step}: sample {i} has {e}; "
                    f"completion {show(completions[i])!r}"
                ) from None
            skipped += 1
            continue
        valid[i] = True
    return values, valid, skipped


def evaluate_rewards(
    fn: Callable[..., Any],
    completions: Sequence[Tokens],
    references: Optional[Sequence[Any]],
    sources: Sequence[Tokens],
    columns: Optional[Mapping[str, Any]],
    step: int,
    on_error: str = "raise",
    render: Optional[Render] = None,
) -> RewardResult:
    """Checked sequence-level rewards: values (N,) float32, 0 where invalid."""
    values, valid, skipped = _evaluate(
        fn, completions, references, sources, columns, step, on_error, render, lambda v, _c: _scalar(v)
    )
    out = torch.tensor([0.0 if v is None else v for v in values], dtype=torch.float32)
    return RewardResult(values=out, valid=torch.tensor(valid, dtype=torch.bool), skipped=skipped)


def evaluate_token_rewards(
    fn: Callable[..., Any],
    completions: Sequence[Tokens],
    references: Optional[Sequence[Any]],
    sources: Sequence[Tokens],
    columns: Optional[Mapping[str, Any]],
    step: int,
    on_error: str = "raise",
    render: Optional[Render] = None,
    width: Optional[int] = None,
) -> RewardResult:
    """Checked per-token rewards: values (N, T) float32 aligned to the rollout mask.

    Token t of a completion lands in column t and its EOS entry in column len(completion).
    T is `width` (pass the rollout's `tokens.shape[1]`), or by default the longest
    completion plus one. A completion that fills all `width` columns was cut off
    without an EOS; its EOS entry is added to its last column so each row still sums
    to the sequence reward.
    """
    longest = max((len(c) for c in completions), default=0)
    if width is None:
        width = longest + 1
    elif isinstance(width, bool) or not isinstance(width, int) or width < max(1, longest):
        raise ValueError(f"width must be an integer >= max(1, longest completion = {longest}), got {width!r}")
    rows, valid, skipped = _evaluate(
        fn, completions, references, sources, columns, step, on_error, render, _token_row
    )
    out = torch.zeros((len(completions), width), dtype=torch.float32)
    for i, row in enumerate(rows):
        if row is None:
            continue
        k = len(completions[i])
        if k:
            out[i, :k] = torch.tensor(row[:k], dtype=torch.float32)
        out[i, min(k, width - 1)] += row[k]
    return RewardResult(values=out, valid=torch.tensor(valid, dtype=torch.bool), skipped=skipped)
