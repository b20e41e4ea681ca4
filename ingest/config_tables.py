"""What every part of the config shares: the error type, key and type checks, paths relative to the file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """The config file is missing, unreadable or invalid; the message says where and what is allowed."""


def check_table(
    where: str, section: str, table: Mapping[str, Any], allowed: Mapping[str, type | tuple[type, ...]]
) -> dict[str, Any]:
    """`table` has only `allowed` keys, each of its type; the error names the valid choices."""
    for key, value in table.items():
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key '{key}' in {section}; allowed: {', '.join(allowed)}")
        expected = allowed[key]
        # TOML booleans are ints in Python; a `true` where a number belongs is still a mistake.
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            wanted = "number" if isinstance(expected, tuple) else expected.__name__
            raise ConfigError(f"{where}: {section} {key} must be a {wanted}, not {type(value).__name__}")
    return dict(table)


def resolve_path(text: str, base_dir: Path) -> Path:
    """`~` expanded; a relative path is taken from the config file's folder."""
    path = Path(text).expanduser()
    return path if path.is_absolute() else base_dir / path


def move_target(text: str) -> str | None:
    """The target of an after-action written 'move:<target>' (trimmed); None for anything else or an empty one."""
    if not text.startswith("move:"):
        return None
    return text[len("move:") :].strip() or None
