"""Config loading: the example loads as-is, and every mistake is named with the valid choices."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.config import DEFAULT_LAYOUT, ConfigError, Settings, default_config_paths, load_settings

REPO = Path(__file__).resolve().parent.parent


def test_example_config_loads_as_is() -> None:
    settings = load_settings(REPO / "config.example.toml")
    assert settings.archive.layout == DEFAULT_LAYOUT
    assert settings.archive.root == Path("~/发票").expanduser()
    assert settings.extract.max_pages == 20
    assert settings.database_url.endswith("/.fapiao/fapiao.db")
    assert settings.database_url.startswith("sqlite:///")


def test_example_config_matches_the_built_in_defaults() -> None:
    example = load_settings(REPO / "config.example.toml")
    defaults = Settings()
    assert (example.archive, example.database, example.extract) == (
        defaults.archive,
        defaults.database,
        defaults.extract,
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_root_is_taken_from_the_config_folder(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, '[archive]\nroot = "archive"\n'))
    assert settings.archive.root == tmp_path.resolve() / "archive"
    assert settings.source == tmp_path / "config.toml"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[archiv]\nroot = 'x'\n", "unknown section [archiv]; known sections: archive, database, extract"),
        ("[archive]\nroots = 'x'\n", "unknown key 'roots' in [archive]; allowed: root, layout"),
        ("[extract]\nmax_pages = '20'\n", "[extract] max_pages must be a int, not str"),
        ("[extract]\nmax_pages = true\n", "[extract] max_pages must be a int, not bool"),
        ("[extract]\nmax_pages = 0\n", "max_pages must be at least 1"),
        ("[extract]\nocr = 1\n", "[extract] ocr must be a bool, not int"),
        ("[extract]\nocr = 'yes'\n", "[extract] ocr must be a bool, not str"),
        ("[archive]\nlayout = '{year}/{sellr}_{number}'\n", "layout uses {sellr}; available: {year}"),
        ("[archive]\nlayout = '{year}/{seller}'\n", "must contain {number}"),
        ("[archive]\nlayout = '{year/{number}'\n", "is malformed"),
        ("[archive]\nlayout = '{number:>30}'\n", "write placeholders plainly"),
        ("[archive]\nlayout = '{number!r}'\n", "write placeholders plainly"),
        ("archive = 3\n", "[archive] must be a table"),
        ("[archive\n", "not valid TOML"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(write(tmp_path, text))
    assert message in str(raised.value)
    assert str(tmp_path / "config.toml") in str(raised.value)


def test_missing_config_file_is_an_error_when_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "nope.toml")


def test_not_utf8_config_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes('[archive]\nroot = "发票"\n'.encode("gbk"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(path)


def test_defaults_when_no_config_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, env={"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "APPDATA": str(tmp_path)})
    assert settings.source is None


def test_platform_config_dir_is_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "APPDATA": str(tmp_path / "xdg")}
    platform_path = default_config_paths(env=env, home=tmp_path)[-1]
    platform_path.parent.mkdir(parents=True)
    platform_path.write_text("[extract]\nmax_pages = 3\n", encoding="utf-8")
    assert load_settings(None, env=env).extract.max_pages == 3
