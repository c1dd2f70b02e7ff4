"""The console's words in each language: zh-CN (the default) and English.

Each module of this package holds one area's messages as ``MESSAGES = {key: (中文, English)}``; keys are
dotted and start with the area (``cases.filter.status``). A key in two modules is an error. Messages may
take ``str.format`` fields: ``t("cases.count", n=3)``. Keys starting with ``js.`` are also handed to
the page's scripts (``lanjie.L("js.…")``).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

LANGUAGES = ("zh-CN", "en")


def _load() -> dict[str, tuple[str, str]]:
    merged: dict[str, tuple[str, str]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for key, pair in module.MESSAGES.items():
            if key in merged:
                raise RuntimeError(f"console message {key!r} is defined twice (again in {info.name})")
            if len(pair) != 2 or not all(isinstance(text, str) and text for text in pair):
                raise RuntimeError(f"console message {key!r} needs a Chinese and an English text")
            merged[key] = pair
    return merged


CATALOGUE = _load()


class Translator:
    """``t(key, **fields)``: the message in the language; an unknown key is a KeyError, never a raw key."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else LANGUAGES[0]
        self._column = LANGUAGES.index(self.lang)

    def __call__(self, key: str, **fields: Any) -> str:
        text = CATALOGUE[key][self._column]
        return text.format(**fields) if fields else text

    def has(self, key: str) -> bool:
        return key in CATALOGUE

    def scripts(self) -> dict[str, str]:
        """The ``js.`` messages, for the page's scripts."""
        return {key: pair[self._column] for key, pair in CATALOGUE.items() if key.startswith("js.")}
