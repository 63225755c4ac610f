"""The README's headline table is written from the results files: --check catches an edited figure."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _check(readme: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "scripts/headline.py", "--check", "--readme", str(readme)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_readme_table_matches_the_results_files():
    proc = _check(ROOT / "README.md")
    assert proc.returncode == 0, proc.stderr


def test_an_edited_figure_is_named(tmp_path):
    text = (ROOT / "README.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| CartPole-v1"))
    edited = tmp_path / "README.md"
    edited.write_text(text.replace(row, row.replace("5/5", "4/5", 1)))
    proc = _check(edited)
    assert proc.returncode == 1
    assert "does not match benchmarks/results/" in proc.stderr and "| CartPole-v1" in proc.stderr
    missing = tmp_path / "NO_MARKERS.md"
    missing.write_text("no table here\n")
    proc = _check(missing)
    assert proc.returncode == 1 and "HEADLINE markers are missing" in proc.stderr
