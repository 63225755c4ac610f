"""Writes the generated pages of the docs site (run by scripts/docs.sh before mkdocs builds):
docs/reference/config.md from the config schema, docs/reference/kinds.md from the registry of
kinds of run and the baselines, docs/index.md from README.md (one text for the repository's front
page and the site's), and copies the benchmark figures beside the pages."""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from seqrl.config import Config  # noqa: E402
from seqrl.config.kind_defaults import notes  # noqa: E402
from seqrl.config.validate import describe  # noqa: E402
from seqrl.curriculum import CURRICULA  # noqa: E402
from seqrl.estimators.baselines import BASELINES  # noqa: E402
from seqrl.estimators.risk import OBJECTIVES  # noqa: E402
from seqrl.kinds import KINDS, sections_of  # noqa: E402


def cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def config_page() -> str:
    out = ["# Configuration reference", "",
           "Generated from the schema (`seqrl/config/`) by `scripts/gen_docs.py`; `seqrl config --keys` prints the "
           "same table. Every key can be set in the YAML file or on the command line as `section.key=value`.", ""]
    section, kind_notes = None, notes()
    for key, tp, default, doc in describe(Config):
        top = key.split(".")[0]
        if top != section:
            section = top
            out += ["", f"## `{top}`", "", "| key | type | default | meaning |", "|---|---|---|---|"]
        shown = f"`{cell(repr(default))}`" + (f" ({cell(kind_notes[key])})" if key in kind_notes else "")
        out.append(f"| `{key}` | {cell(tp)} | {shown} | {cell(doc)} |")
    return "\n".join(out) + "\n"


def kinds_page() -> str:
    out = ["# Kinds of run, baselines, curricula", "",
           "Generated from `seqrl.kinds.KINDS` (the registry of sources), `seqrl.estimators.risk.OBJECTIVES`, "
           "`seqrl.estimators.baselines.BASELINES` and `seqrl.curriculum.CURRICULA`; `seqrl list` prints the same.",
           "",
           "## Kinds of run", "", "| name | source | config sections | needs | what |", "|---|---|---|---|---|"]
    for name, kind in KINDS.items():
        extra = f"`.[{kind.extra}]`" if kind.extra else "core"
        secs = ", ".join(f"`{s}`" for s in sections_of(name))
        out.append(f"| `{name}` | `{kind.source}` | {secs} | {extra} | {cell(kind.description)} |")
    out += ["", "## Objectives (`reinforce.objective`)", "", "| name | what |", "|---|---|"]
    out += [f"| `{k}` | {cell(v)} |" for k, v in OBJECTIVES.items()]
    out += ["", "## Baselines (`reinforce.baseline`)", "", "| name | what |", "|---|---|"]
    out += [f"| `{k}` | {cell(v)} |" for k, v in BASELINES.items()]
    out += ["", "## Curricula (`curriculum.kind`)", "", "| name | what |", "|---|---|"]
    out += [f"| `{k}` | {cell(v)} |" for k, v in CURRICULA.items()]
    return "\n".join(out) + "\n"


def index_page() -> str:
    """README.md with its links into docs/ made relative to the docs site, and the pointer to the
    Markdown docs turned into one to the first guide."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    text = text.replace("or read the Markdown under [`docs/`](docs/getting-started.md) directly.",
                        "or start with [Getting started](getting-started.md).")
    return re.sub(r"\]\(docs/", "](", text)


def main() -> None:
    docs = ROOT / "docs"
    (docs / "reference").mkdir(exist_ok=True)
    (docs / "reference" / "config.md").write_text(config_page(), encoding="utf-8")
    (docs / "reference" / "kinds.md").write_text(kinds_page(), encoding="utf-8")
    (docs / "index.md").write_text(index_page(), encoding="utf-8")
    figures = docs / "assets" / "results"
    figures.mkdir(parents=True, exist_ok=True)
    for png in (ROOT / "benchmarks" / "results").glob("*.png"):
        shutil.copy2(png, figures / png.name)


if __name__ == "__main__":
    main()
