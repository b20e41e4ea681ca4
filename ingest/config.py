"""TOML config -> validated, frozen settings; unknown keys and wrong types are errors that name the valid choices."""

from __future__ import annotations

import os
import string
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage.paths import PLACEHOLDERS

LAYOUT_FIELDS = PLACEHOLDERS  # the archive renders exactly these
DEFAULT_LAYOUT = "{year}/{year}-{month}/{date}_{seller}_{total}_{number}"
DEFAULT_ROOT = "~/发票"


class ConfigError(Exception):
    """The config file is missing, unreadable or invalid; the message says where and what is allowed."""


@dataclass(frozen=True)
class ArchiveSettings:
    root: Path = field(default_factory=lambda: Path(DEFAULT_ROOT).expanduser())
    layout: str = DEFAULT_LAYOUT


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = ""  # empty: SQLite inside the archive root (see `database_url`)


@dataclass(frozen=True)
class ExtractSettings:
    max_pages: int = 20
    max_file_mb: int = 50
    ocr: bool = True  # used only when Tesseract (with chi_sim) is installed


@dataclass(frozen=True)
class Settings:
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    extract: ExtractSettings = field(default_factory=ExtractSettings)
    source: Path | None = None  # the file these came from; None for the built-in defaults

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.archive.root / '.fapiao' / 'fapiao.db'}"


_SECTIONS: dict[str, dict[str, type]] = {
    "archive": {"root": str, "layout": str},
    "database": {"url": str},
    "extract": {"max_pages": int, "max_file_mb": int, "ocr": bool},
}


def default_config_paths(*, env: Mapping[str, str] = os.environ, home: Path | None = None) -> list[Path]:
    """Where `--config` is looked for when not given: ./config.toml, then the platform's config dir."""
    home = home or Path.home()
    paths = [Path("config.toml")]
    if sys.platform == "win32" and env.get("APPDATA"):
        paths.append(Path(env["APPDATA"]) / "fapiao" / "config.toml")
    elif sys.platform == "darwin":
        paths.append(home / "Library" / "Application Support" / "fapiao" / "config.toml")
    else:
        paths.append(Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "fapiao" / "config.toml")
    return paths


def load_settings(path: Path | None = None, *, env: Mapping[str, str] = os.environ) -> Settings:
    """Settings from `path`, or from the first default location that exists, or the built-in defaults."""
    if path is None:
        path = next((p for p in default_config_paths(env=env) if p.is_file()), None)
        if path is None:
            return Settings()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such config file (write one with `fapiao init`)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_settings(document, base_dir=path.parent.resolve(), source=path)


def parse_settings(document: Mapping[str, Any], *, base_dir: Path, source: Path | None = None) -> Settings:
    """Validate a parsed TOML document; relative paths are taken from `base_dir` (the config's folder)."""
    where = str(source) if source else "config"
    unknown = sorted(set(document) - set(_SECTIONS))
    if unknown:
        raise ConfigError(f"{where}: unknown section [{unknown[0]}]; known sections: {', '.join(_SECTIONS)}")
    values: dict[str, dict[str, Any]] = {}
    for section, allowed in _SECTIONS.items():
        table = document.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [{section}] must be a table")
        values[section] = _check_table(where, section, table, allowed)
    archive = _archive(where, values["archive"], base_dir)
    extract = ExtractSettings(**values["extract"])
    for name in ("max_pages", "max_file_mb"):
        if getattr(extract, name) < 1:
            raise ConfigError(f"{where}: [extract] {name} must be at least 1")
    return Settings(archive=archive, database=DatabaseSettings(**values["database"]), extract=extract, source=source)


def _check_table(where: str, section: str, table: Mapping[str, Any], allowed: dict[str, type]) -> dict[str, Any]:
    for key, value in table.items():
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key '{key}' in [{section}]; allowed: {', '.join(allowed)}")
        expected = allowed[key]
        # TOML booleans are ints in Python; a `true` where a number belongs is still a mistake.
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: [{section}] {key} must be a {expected.__name__}, not {type(value).__name__}")
    return dict(table)


def _archive(where: str, table: dict[str, Any], base_dir: Path) -> ArchiveSettings:
    root = Path(table.get("root", DEFAULT_ROOT)).expanduser()
    if not root.is_absolute():
        root = base_dir / root
    layout = table.get("layout", DEFAULT_LAYOUT)
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(layout)]
    except ValueError as exc:
        raise ConfigError(f"{where}: [archive] layout {layout!r} is malformed: {exc}") from exc
    names = [name for name, _, _ in fields if name is not None]
    if any(spec or conversion for name, spec, conversion in fields if name is not None):
        raise ConfigError(f"{where}: [archive] layout {layout!r}: write placeholders plainly, like {{seller}}")
    for name in names:
        if name not in LAYOUT_FIELDS:
            raise ConfigError(
                f"{where}: [archive] layout uses {{{name}}}; available: "
                + " ".join("{" + f + "}" for f in LAYOUT_FIELDS)
            )
    if "number" not in names:
        raise ConfigError(f"{where}: [archive] layout must contain {{number}} so two invoices never share a name")
    return ArchiveSettings(root=root, layout=layout)
