"""The layers of DESIGN.md: an import arrow may only point inward."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src" / "lanjie"

#: For each layer, the lanjie packages it must never import.
FORBIDDEN = {
    "domain": ("lanjie.service", "lanjie.store", "lanjie.carriers", "lanjie.api", "lanjie.sandbox", "lanjie.worker",
               "lanjie.bootstrap", "lanjie.cli", "lanjie.console", "lanjie.settings"),
    "service": ("lanjie.api", "lanjie.cli", "lanjie.console", "lanjie.demo", "lanjie.sandbox", "lanjie.worker"),
    "store": ("lanjie.service", "lanjie.api", "lanjie.carriers", "lanjie.sandbox", "lanjie.cli"),
    "carriers": ("lanjie.service", "lanjie.store", "lanjie.api", "lanjie.sandbox", "lanjie.cli"),
    "files": ("lanjie.api", "lanjie.cli", "lanjie.console", "lanjie.sandbox", "lanjie.worker", "lanjie.carriers",
              "lanjie.channels"),
    "channels": ("lanjie.service", "lanjie.store", "lanjie.api", "lanjie.sandbox", "lanjie.cli"),
    "webhooks": ("lanjie.api", "lanjie.sandbox", "lanjie.cli", "lanjie.carriers", "lanjie.channels"),
    "sandbox": ("lanjie.service", "lanjie.store", "lanjie.api", "lanjie.carriers", "lanjie.channels", "lanjie.cli"),
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_inward(layer: str) -> None:
    offences = [(str(path.relative_to(SRC)), name) for path in sorted((SRC / layer).rglob("*.py"))
                for name in sorted(_imports(path))
                if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer])]
    assert offences == []


def test_domain_needs_nothing_but_the_standard_library() -> None:
    outside = {(str(path.relative_to(SRC)), name) for path in (SRC / "domain").rglob("*.py")
               for name in _imports(path)
               if name.split(".")[0] not in sys.stdlib_module_names and not name.startswith("lanjie.domain")
               and name != "__future__"}
    assert outside == set()
