"""The CLI as a new user meets it: fast help, --version, validated arguments, text printed as
given, a core install without extras."""
import subprocess
import sys
from pathlib import Path

import pytest

from seqrl import __version__
from seqrl.cli import main
from tests.conftest import TINY

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_help_and_version_do_not_import_torch():
    done = _run("import sys\nfrom seqrl.cli import main\n"
                "for argv in (['--help'], ['train', '--help'], ['eval', '--help'], ['--version']):\n"
                "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
                "print('TORCH' if 'torch' in sys.modules else 'NO TORCH')")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("NO TORCH")
    assert f"seqrl {__version__}" in done.stdout and "(default: latest)" in done.stdout  # defaults shown


@pytest.mark.parametrize("argv, needle", [
    (["eval", "RUN", "--beam", "-3"], "argument --beam: must be >= 1, got -3"),
    (["eval", "RUN", "--beam", "0"], "argument --beam: must be >= 1, got 0"),
    (["sample", "RUN", "--temperature", "0"], "argument --temperature: must be > 0, got 0.0"),
    (["sample", "RUN", "--n", "0"], "argument --n: must be >= 1, got 0"),
    (["sample", "RUN", "--k", "0"], "argument --k: must be >= 1, got 0"),
    (["eval", "RUN", "--length-penalty", "nan"], "argument --length-penalty: must be a finite number"),
])
def test_bad_arguments_are_one_line_errors(argv, needle, capsys):
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2 and needle in capsys.readouterr().err


def test_error_text_is_printed_as_given(tmp_path, capsys):
    odd = tmp_path / "runs" / "a[/b]" / "c[red]"
    assert main(["eval", str(odd)]) == 2
    assert f"{odd} is not a run directory" in capsys.readouterr().err
    assert main(["train", "model.kind=hf", "task.name=text", "data.train=x", "data.valid=y",
                 "model.hf_path=/nonexistent"]) in (1, 2)
    err = capsys.readouterr().err
    assert "[" not in err or ".[hf]" in err or "/nonexistent" in err


def test_config_keys_piped_prints_whole_lines():
    done = subprocess.run([sys.executable, "-m", "seqrl", "config", "--keys"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    lines = done.stdout.splitlines()
    assert lines[0].split("\t") == ["key", "type", "default", "meaning"]
    keys = [line.split("\t")[0] for line in lines[1:]]
    assert "curriculum.mixer_anchor" in keys and "task.reward_timeout" in keys
    assert all(len(line.split("\t")) == 4 for line in lines)


BLOCK_EXTRAS = """
import sys
for name in ("tokenizers", "sacrebleu", "rouge_score", "transformers", "peft", "datasets", "trl", "hypothesis",
             "tensorboard", "wandb", "mlflow"):
    sys.modules[name] = None  # as if not installed: import fails, importlib.util.find_spec says None
"""


def test_the_core_install_runs_the_built_in_tasks(tmp_path):
    """With every optional package unimportable: the CLI and Python API train a built-in task, and
    a text run names the extra to install."""
    code = BLOCK_EXTRAS + (
        "from seqrl import load_config, make_trainer, resume\n"
        "from seqrl.cli import main\n"
        f"assert main(['train', *{TINY!r}, 'optim.steps=4', 'curriculum.warmup_steps=2', '--run-dir', sys.argv[1]]) == 0\n"
        "assert main(['train', 'task.name=text', 'data.train=' + sys.argv[2], 'data.valid=' + sys.argv[2],"
        " '--run-dir', sys.argv[1] + '-text']) == 2\n")
    data = tmp_path / "d"
    (tmp_path / "d.src").write_text("a b\n")
    (tmp_path / "d.tgt").write_text("b a\n")
    done = _run(code, str(tmp_path / "run"), str(data))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "summary.jsonl").exists()
    assert "text data (subword tokenizers) needs the optional package 'tokenizers'" in done.stderr
    assert 'pip install -e ".[text]" in the seqrl checkout' in done.stderr
