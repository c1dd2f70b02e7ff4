"""Docs that state what the code does are checked against the code."""

from __future__ import annotations

from pathlib import Path

from lanjie.carriers import matrix
from lanjie.carriers.registry import capability_table

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_the_capability_matrix_in_the_docs_is_what_the_installed_plugins_declare() -> None:
    text = (DOCS / "carriers.md").read_text(encoding="utf-8")
    start, end = "<!-- matrix:start -->\n", "<!-- matrix:end -->"
    documented = text[text.index(start) + len(start):text.index(end)]
    assert documented == matrix.markdown(capability_table()), "run `lanjie carriers --markdown` into docs/carriers.md"
