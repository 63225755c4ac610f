"""The JSON-lines logs: a torn last line is skipped, a damaged line elsewhere is one error naming
the file and line, from the library and from the CLI (plot, resume)."""
import pytest

from seqrl.cli import main
from seqrl.run import jsonl
from seqrl.run.errors import RunError
from tests.conftest import TINY


def test_a_torn_last_line_is_skipped_and_a_damaged_one_is_named(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 1}\n{"step": 2}\n{"st')
    assert [r["step"] for r in jsonl.read(path)] == [1, 2]
    path.write_text('{"step": 1}\n{broken\n{"step": 3}\n')
    with pytest.raises(RunError, match=r"m.jsonl:2: not valid JSON"):
        list(jsonl.read(path))


def test_plot_and_resume_name_a_damaged_log_in_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "optim.steps=8", "run.diagnostics.every=4",
                 "curriculum.kind=reinforce", "--run-dir", str(run)]) == 0
    rows = (run / "diagnostics.jsonl").read_text().splitlines()
    (run / "diagnostics.jsonl").write_text("\n".join([rows[0], '{"step": 9}', rows[1]]) + "\n")
    capsys.readouterr()
    assert main(["plot", str(run), "-o", str(tmp_path / "p.png")]) == 1
    assert not (tmp_path / "p.png").exists()  # refused before drawing anything
    assert "diagnostics.jsonl: record 2 is not a diagnostics row" in capsys.readouterr().err
    lines = (run / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").write_text("\n".join([lines[0], "{broken"] + lines[2:]) + "\n")
    assert main(["train", "--resume", str(run), "optim.steps=10"]) == 1
    err = capsys.readouterr().err
    assert "metrics.jsonl:2: not valid JSON" in err and "Traceback" not in err
