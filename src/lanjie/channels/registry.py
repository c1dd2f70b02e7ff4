"""Finding sales-channel plugins (entry-point group ``lanjie.channels``)."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from lanjie.channels.base import Channel

log = logging.getLogger(__name__)

GROUP = "lanjie.channels"


class UnknownChannel(ValueError):
    """No installed channel plugin has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no sales-channel plugin named {name!r} is installed")
        self.name = name


def load_channels() -> dict[str, type[Channel]]:
    """Every installed channel plugin by name; one that fails to import is logged and left out."""
    channels: dict[str, type[Channel]] = {}
    for entry in entry_points(group=GROUP):
        try:
            channels[entry.name] = entry.load()
        except Exception:  # a broken third-party plugin must not take the others down with it
            log.exception("channel plugin %r (%s) failed to load", entry.name, entry.value)
    return channels


def credential_problem(cls: type[Channel], credentials: dict[str, str]) -> str | None:
    """What is wrong with an account's credentials for this plugin (the field first), or None."""
    missing = [name for name in cls.credential_names if not str(credentials.get(name, "")).strip()]
    if missing:
        return f"{missing[0]} is required for {cls.name} (needs {', '.join(cls.credential_names)})"
    unknown = sorted(set(credentials) - set(cls.credential_names))
    if unknown:
        return f"{unknown[0]} is not a {cls.name} credential (known: {', '.join(cls.credential_names)})"
    return None
