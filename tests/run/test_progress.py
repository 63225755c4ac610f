"""The progress bar's output: validation lines stay whole when output is redirected, and a run
that stops early says why where the time left was shown."""
from __future__ import annotations

import io

from rich.console import Console

from seqrl.run.progress import ProgressBar


def test_a_long_validation_line_is_never_wrapped(capsys):
    """Redirected output (not a TTY, rich's default width 80): the line stays one line."""
    line = "step 100 validation " + str({f"metric_{i}": 0.1234 for i in range(8)})
    assert len(line) > 120
    for enabled in (True, False):
        with ProgressBar(200, 0, enabled) as bar:
            bar.log(line)
        captured = capsys.readouterr()
        assert line in (captured.err + captured.out).splitlines()


def test_an_early_stop_replaces_the_time_left():
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=True)
    with ProgressBar(200, 0, True, console) as bar:
        bar.update(40, "RL reward 0.9")
        bar.finish("stopped: run.stop_at=0.9 was reached")
    text = out.getvalue()
    assert "stopped: run.stop_at=0.9 was reached" in text.splitlines()[-1] or "stopped: run.stop_at" in text
    assert "eta" not in text.rsplit("\r", 1)[-1]
