"""A checkpoint written before a config key existed resumes when the key holds its default."""
from __future__ import annotations

import pytest

from seqrl.config import ConfigError, load_config, to_dict
from seqrl.config.resume import check_resume


def _without(data: dict, section: str, key: str) -> dict:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    del out[section][key]
    return out


def test_a_key_added_later_at_its_default_is_no_difference():
    current = to_dict(load_config(None))
    older = _without(_without(current, "optim", "optimizer"), "q", "tau")
    assert check_resume(older, current, "ckpt") == []
    del older["q"]  # a whole section added later
    assert check_resume(older, current, "ckpt") == []


def test_a_key_added_later_but_set_away_from_its_default_is_refused():
    older = _without(to_dict(load_config(None)), "optim", "optimizer")
    current = to_dict(load_config(None, ["optim.optimizer=rmsprop"]))
    with pytest.raises(ConfigError, match=r"optim.optimizer: None -> 'rmsprop'"):
        check_resume(older, current, "ckpt")
