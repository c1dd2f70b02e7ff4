"""Accessibility that can be checked without a browser: readable contrast of the console's colours, and
every form control on every page labelled (the browser tests check keyboard reach)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.console.conftest import ConsoleWorld

CSS = (Path(__file__).parents[2] / "src" / "lanjie" / "console" / "static" / "console.css").read_text()

#: Text colour on background colour, as the style sheet pairs them (CSS variables or literals).
PAIRS = [
    ("--ink", "--bg"), ("--ink", "--card"), ("--muted", "--card"), ("--muted", "--bg"), ("--info", "--card"),
    ("--accent-ink", "--accent"), ("--ok", "--ok-bg"), ("--warn", "--warn-bg"), ("--bad", "--bad-bg"),
    ("--info", "--info-bg"), ("#ffffff", "#20262e"), ("#e3e7ec", "#20262e"), ("#ffffff", "--ok"),
    ("#ffffff", "--warn"), ("--ink", "#eef1f4"), ("--ink", "#e7eaee"),
]


def _colour(name: str) -> str:
    if name.startswith("#"):
        return name
    found = re.search(rf"{re.escape(name)}:\s*(#[0-9a-fA-F]{{6}})", CSS)
    assert found is not None, name
    return found.group(1)


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(fore: str, back: str) -> float:
    hi, lo = sorted((_luminance(_colour(fore)), _luminance(_colour(back))), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize(("fore", "back"), PAIRS)
def test_text_colours_meet_wcag_aa_contrast(fore: str, back: str) -> None:
    assert contrast(fore, back) >= 4.5


def test_the_contrast_formula_is_wcags() -> None:
    assert round(contrast("#000000", "#ffffff"), 2) == 21.0
    assert round(contrast("#767676", "#ffffff"), 2) == 4.54


class _Controls(HTMLParser):
    """Form controls without an accessible name: no <label for>, no aria-label(ledby), no title, not wrapped."""

    def __init__(self) -> None:
        super().__init__()
        self.labelled: set[str] = set()
        self.controls: list[tuple[str, dict[str, str]]] = []
        self.buttons: list[list[str]] = []
        self.depth_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "label":
            self.depth_label += 1
            if a.get("for"):
                self.labelled.add(a["for"])
        elif tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit", "button"):
            self.controls.append((tag, {**a, "_wrapped": "1" if self.depth_label else ""}))
        elif tag == "button":
            self.buttons.append([a.get("aria-label", "") or a.get("title", "")])

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.depth_label -= 1
        elif tag == "button" and self.buttons:
            self.buttons[-1].append("</>")

    def handle_data(self, data: str) -> None:
        if self.buttons and (not self.buttons[-1] or self.buttons[-1][-1] != "</>"):
            self.buttons[-1].append(data.strip())

    def unlabelled(self) -> list[str]:
        missing = [f"{tag} {a.get('id') or a.get('name')}" for tag, a in self.controls
                   if not (a.get("id") in self.labelled or a.get("aria-label") or a.get("aria-labelledby")
                           or a.get("title") or a["_wrapped"])]
        missing += ["button without text" for parts in self.buttons if not "".join(p for p in parts if p != "</>")]
        return missing


PAGES = ["/console/cases", "/console/receiving", "/console/claims", "/console/rules", "/console/dashboard",
         "/console/settings"]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_control_on_every_page_has_a_label(console: ConsoleWorld, lang: str) -> None:
    owner = console.sign_in("owner")
    owner.client.cookies.set("lanjie_lang", lang)
    pages = PAGES + _settings_pages(owner)
    for path in pages:
        page = owner.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        assert f'<html lang="{lang}">' in page.text
        parser = _Controls()
        parser.feed(page.text)
        assert parser.unlabelled() == [], path


def _settings_pages(owner) -> list[str]:  # type: ignore[no-untyped-def]
    """The settings section's own pages, from its sub-navigation."""
    html = owner.get("/console/settings").text
    return sorted({m for m in re.findall(r'href="(/console/settings/[a-z-]+)"', html)})
