"""Every bad config gets one ConfigError naming the file, line or key, quickly; never another exception."""
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqrl.config import Config, ConfigError, load_config
from seqrl.config.validate import describe

FLOAT_KEYS = [key for key, tp, _, _ in describe(Config) if "float" in tp]


def test_there_are_float_keys_to_check():
    assert {"optim.lr", "optim.grad_clip", "reinforce.kl_coef", "reinforce.temperature", "task.gamma"} <= set(FLOAT_KEYS)


@pytest.mark.parametrize("key", FLOAT_KEYS)
@pytest.mark.parametrize("value", [".nan", "nan", ".inf", "-.inf"])
def test_non_finite_floats_are_refused_for_every_key(key, value):
    with pytest.raises(ConfigError, match=rf"^{key}: .* is not a finite number$"):
        load_config(None, [f"{key}={value}"])


def _write(tmp_path, data: bytes):
    path = tmp_path / "c.yaml"
    path.write_bytes(data)
    return path


BOMB = "\n".join(["a: &a [" + ",".join(['"lol"'] * 9) + "]"] +
                 [f"{b}: &{b} [" + ",".join([f"*{a}"] * 9) + "]" for a, b in zip("abcdefgh", "bcdefghi")] +
                 ["task: *i"]) + "\n"


@pytest.mark.parametrize("data, message", [
    ("optim:\n  lr: 0.1\n".encode("utf-16"), r"c.yaml: the file is UTF-16 text; save it as UTF-8"),
    (b"optim:\n  lr: 0.1\n  steps: 5 \xe9\n", r"c.yaml:3: not UTF-8 text \(byte 0xe9\)"),
    (b"optim:\n  steps: 5\n  lr: 0.1\n  steps: 6\n", r"c.yaml:4: key 'steps' is repeated \(first at line 2\)"),
    (b"optim:\n  lr: 0.1\noptim:\n  steps: 5\n", r"c.yaml:3: key 'optim' is repeated \(first at line 1\)"),
    (("a: " + "[" * 50_000 + "]" * 50_000 + "\n").encode(), r"c.yaml(:\d+)?: nests (too deeply|deeper than)"),
    (("a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 60)) + " " * 60 + "v: 1\n").encode(),
     r"c.yaml:\d+: nests deeper than 32 levels"),
    (BOMB.encode(), r"c.yaml: expands to more than 100000 values"),
])
def test_malformed_files_are_one_quick_line(tmp_path, data, message):
    began = time.monotonic()
    with pytest.raises(ConfigError, match=message) as err:
        load_config(_write(tmp_path, data))
    assert time.monotonic() - began < 5 and "\n" not in str(err.value) and len(str(err.value)) < 400


def test_a_byte_order_mark_is_fine_and_an_empty_section_takes_overrides(tmp_path):
    cfg = load_config(_write(tmp_path, b"\xef\xbb\xbfoptim:\nrun:\n  seed: 3\n"), ["optim.steps=5"])
    assert cfg.optim.steps == 5 and cfg.run.seed == 3


# -- properties ---------------------------------------------------------------------------------
YAML_BITS = ["optim:", "task:", "run:", "  lr: ", "  steps: ", "  seed: ", "name: ", ".nan", "1e-3", "-1", "[", "]",
             "{", "}", "&a ", "*a", "<<: ", "\n", "  ", ": ", "- ", "'", '"', "null", "true", "x", "\t", "é", "!!python/name:os.system"]


def _check(load) -> None:
    began = time.monotonic()
    try:
        load()
    except ConfigError as err:
        assert "\n" not in str(err) and len(str(err)) < 2000
    assert time.monotonic() - began < 2


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.lists(st.sampled_from(YAML_BITS), max_size=40).map("".join), st.text(max_size=200)),
       raw=st.binary(max_size=60))
def test_random_config_files_give_only_config_errors(tmp_path, text, raw):
    _check(lambda: load_config(_write(tmp_path, text.encode("utf-8", "surrogatepass"))))
    _check(lambda: load_config(_write(tmp_path, raw)))


KEYS = [key for key, *_ in describe(Config)] + ["optim", "optim.", ".lr", "a.b.c", "optim.lrr", ""]


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from(KEYS), value=st.one_of(st.sampled_from(YAML_BITS), st.text(max_size=30)))
def test_random_overrides_give_only_config_errors(key, value):
    _check(lambda: load_config(None, [f"{key}={value}"]))
