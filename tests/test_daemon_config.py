"""The daemon's part of the config: [[watch]] folders and [daemon]; paths are taken from the config's folder,
folders that would feed files round in a loop are refused, and every mistake is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.config import AfterAction, ConfigError, DaemonSettings, WatchSettings, load_settings

REPO = Path(__file__).resolve().parent.parent
ARCHIVE = '[archive]\nroot = "archive"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_still_loads() -> None:
    settings = load_settings(REPO / "config.example.toml")
    assert isinstance(settings.daemon, DaemonSettings)
    assert settings.daemon.max_attempts >= 1
    for watch in settings.watches:
        assert watch.after.kind in ("keep", "delete", "move")
        assert (watch.after.folder is not None) == (watch.after.kind == "move")


def test_defaults_without_watch_or_daemon_sections(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ARCHIVE))
    assert settings.watches == ()
    assert settings.daemon == DaemonSettings(rescan_minutes=10.0, max_attempts=5, log_file=None)


def test_watch_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ARCHIVE + '[[watch]]\npath = "inbox"\n'))
    assert settings.watches == (
        WatchSettings(
            path=tmp_path.resolve() / "inbox",
            after=AfterAction("keep", None),
            polling=False,
            poll_seconds=5.0,
            settle_seconds=2.0,
        ),
    )
    assert str(settings.watches[0].after) == "keep"


def test_relative_paths_are_taken_from_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # not where the config is
    conf = tmp_path / "conf"
    conf.mkdir()
    text = (
        ARCHIVE
        + '[[watch]]\npath = "inbox"\nafter = "move:done/发票"\n'
        + '[[watch]]\npath = "scans"\nafter = "delete"\n'
        + '[daemon]\nlog_file = "logs/daemon.log"\n'
    )
    path = conf / "config.toml"
    path.write_text(text, encoding="utf-8")
    settings = load_settings(path)
    base = conf.resolve()
    first, second = settings.watches
    assert first.path == base / "inbox"
    assert first.after == AfterAction("move", base / "done" / "发票")
    assert str(first.after) == f"move:{base / 'done' / '发票'}"
    assert second.path == base / "scans"
    assert second.after == AfterAction("delete", None)
    assert settings.daemon.log_file == base / "logs" / "daemon.log"


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    text = (
        '[archive]\nroot = "~/发票"\n'
        + '[[watch]]\npath = "~/Downloads"\nafter = "move:~/done"\n'
        + '[daemon]\nlog_file = "~/fapiao.log"\n'
    )
    settings = load_settings(write(tmp_path, text))
    (watch,) = settings.watches
    assert watch.path == home / "Downloads"
    assert watch.after.folder == home / "done"
    assert settings.daemon.log_file == home / "fapiao.log"


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    inbox, done = tmp_path / "abs" / "inbox", tmp_path / "abs" / "done"
    text = ARCHIVE + f'[[watch]]\npath = "{inbox}"\nafter = "move: {done} "\n'
    (watch,) = load_settings(write(tmp_path, text)).watches
    assert watch.path == inbox
    assert watch.after == AfterAction("move", done)  # blanks around the folder are dropped


def test_every_watch_key_is_read(tmp_path: Path) -> None:
    text = ARCHIVE + '[[watch]]\npath = "nas"\npolling = true\npoll_seconds = 30\nsettle_seconds = 0.5\n'
    (watch,) = load_settings(write(tmp_path, text)).watches
    assert watch.polling is True
    assert watch.poll_seconds == 30.0
    assert isinstance(watch.poll_seconds, float)  # an int is accepted where a number belongs
    assert watch.settle_seconds == 0.5


def test_a_settle_time_of_zero_is_allowed(tmp_path: Path) -> None:
    (watch,) = load_settings(write(tmp_path, ARCHIVE + '[[watch]]\npath = "in"\nsettle_seconds = 0\n')).watches
    assert watch.settle_seconds == 0.0


def test_every_daemon_key_is_read(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ARCHIVE + "[daemon]\nrescan_minutes = 3\nmax_attempts = 2\n"))
    assert settings.daemon == DaemonSettings(rescan_minutes=3.0, max_attempts=2, log_file=None)
    assert isinstance(settings.daemon.rescan_minutes, float)
    fractional = load_settings(write(tmp_path, ARCHIVE + "[daemon]\nrescan_minutes = 0.5\n"))
    assert fractional.daemon.rescan_minutes == 0.5


def test_an_empty_log_file_means_standard_output(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, ARCHIVE + '[daemon]\nlog_file = ""\n')).daemon.log_file is None


def test_watches_next_to_each_other_are_fine(tmp_path: Path) -> None:
    text = ARCHIVE + '[[watch]]\npath = "in"\n[[watch]]\npath = "in2"\nafter = "move:done"\n'
    settings = load_settings(write(tmp_path, text))
    assert [w.path.name for w in settings.watches] == ["in", "in2"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[watch]]\nafter = "keep"\n', "[[watch]] #1 needs a path, the folder to watch"),
        ('[[watch]]\npath = ""\n', "[[watch]] #1 needs a path"),
        ('[watch]\npath = "in"\n', "watch folders are written [[watch]] (with two brackets), one per folder"),
        ('watch = "in"\n', "watch folders are written [[watch]]"),
        (
            '[[watch]]\npath = "in"\n[[watch]]\npath = "in2"\nfolder = "x"\n',
            "unknown key 'folder' in [[watch]] #2; allowed: path, after, polling, poll_seconds, settle_seconds",
        ),
        (
            '[[watch]]\npath = "in"\nafter = "archive"\n',
            "[[watch]] #1 after = 'archive'; choose keep, delete or move:<folder>",
        ),
        ('[[watch]]\npath = "in"\nafter = "Keep"\n', "choose keep, delete or move:<folder>"),
        ('[[watch]]\npath = "in"\nafter = "move:"\n', "after = 'move:'; choose keep, delete or move:<folder>"),
        ('[[watch]]\npath = "in"\nafter = "move:  "\n', "choose keep, delete or move:<folder>"),
        ('[[watch]]\npath = "in"\nafter = "move"\n', "choose keep, delete or move:<folder>"),
        (
            '[[watch]]\npath = "in"\nsettle_seconds = -1\n',
            "[[watch]] #1 poll_seconds must be more than 0 and settle_seconds not negative",
        ),
        ('[[watch]]\npath = "in"\npoll_seconds = 0\n', "poll_seconds must be more than 0"),
        ('[[watch]]\npath = "in"\npoll_seconds = -2.5\n', "poll_seconds must be more than 0"),
        ('[[watch]]\npath = "in"\nsettle_seconds = true\n', "[[watch]] #1 settle_seconds must be a number, not bool"),
        ('[[watch]]\npath = "in"\npoll_seconds = "5"\n', "[[watch]] #1 poll_seconds must be a number, not str"),
        ('[[watch]]\npath = "in"\npolling = "yes"\n', "[[watch]] #1 polling must be a bool, not str"),
        ("[[watch]]\npath = 3\n", "[[watch]] #1 path must be a str, not int"),
        ("[daemon]\nrescan_minutes = 0\n", "[daemon] rescan_minutes must be more than 0"),
        ("[daemon]\nrescan_minutes = -1\n", "[daemon] rescan_minutes must be more than 0"),
        ("[daemon]\nrescan_minutes = false\n", "[daemon] rescan_minutes must be a number, not bool"),
        ("[daemon]\nmax_attempts = 0\n", "[daemon] max_attempts must be at least 1"),
        ("[daemon]\nmax_attempts = 2.5\n", "[daemon] max_attempts must be a int, not float"),
        ("[daemon]\nmax_attempts = true\n", "[daemon] max_attempts must be a int, not bool"),
        ("[daemon]\nlog_file = 1\n", "[daemon] log_file must be a str, not int"),
        (
            "[daemon]\nlogfile = 'x'\n",
            "unknown key 'logfile' in [daemon]; allowed: rescan_minutes, max_attempts, log_file",
        ),
        ("daemon = 1\n", "[daemon] must be a table"),
        (
            "[watches]\n",
            (
                "unknown section [watches]; known sections: archive, database, extract, daemon, backup, notify, "
                "[mailbox], [watch]"
            ),
        ),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(write(tmp_path, text + ARCHIVE))  # [archive] last: top-level keys in `text` stay top-level
    assert message in str(raised.value)
    assert str(tmp_path / "config.toml") in str(raised.value)


@pytest.mark.parametrize(
    ("text", "what"),
    [
        pytest.param('[[watch]]\npath = "archive"\n', "the archive root", id="watch-is-archive"),
        pytest.param('[[watch]]\npath = "archive/inbox"\n', "the archive root", id="watch-inside-archive"),
        pytest.param('[[watch]]\npath = "."\n', "the archive root", id="watch-contains-archive"),
        pytest.param('[[watch]]\npath = "in"\n[[watch]]\npath = "in/sub"\n', "another watched folder", id="nested"),
        pytest.param('[[watch]]\npath = "in/sub"\n[[watch]]\npath = "in"\n', "another watched folder", id="nested-2"),
        pytest.param('[[watch]]\npath = "in"\n[[watch]]\npath = "./in"\n', "another watched folder", id="same"),
        pytest.param('[[watch]]\npath = "in"\nafter = "move:in/done"\n', "the watched folder", id="move-inside"),
        pytest.param('[[watch]]\npath = "in"\nafter = "move:in"\n', "the watched folder", id="move-is-watch"),
        pytest.param('[[watch]]\npath = "in"\nafter = "move:archive/done"\n', "the archive root", id="move-in-archive"),
        pytest.param('[[watch]]\npath = "in"\nafter = "move:archive"\n', "the archive root", id="move-is-archive"),
    ],
)
def test_folders_that_would_feed_files_round_are_refused(tmp_path: Path, text: str, what: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(write(tmp_path, ARCHIVE + text))
    message = str(raised.value)
    assert f"overlaps {what}" in message
    assert "use separate folders" in message


def test_an_overlap_names_the_watch_by_number(tmp_path: Path) -> None:
    text = ARCHIVE + '[[watch]]\npath = "a"\n[[watch]]\npath = "b"\n[[watch]]\npath = "a/deeper"\n'
    with pytest.raises(ConfigError, match=r"\[\[watch\]\] #3: .*deeper overlaps another watched folder"):
        load_settings(write(tmp_path, text))


def test_an_overlap_through_a_symlink_is_refused(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "archive", target_is_directory=True)
    with pytest.raises(ConfigError, match="overlaps the archive root"):
        load_settings(write(tmp_path, ARCHIVE + '[[watch]]\npath = "link/inbox"\n'))
