"""`fapiao backup` as a user runs it, the [backup] config, and backups run by the daemon: on schedule,
made up for at start when one was missed, and after `fapiao run --once`."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from backup_fill import filled_archive, source_of
from cli_run import fapiao
from daemon_run import invoice, running_daemon, settings_for, wait_until

from ingest.cli_backup import backup_lines
from ingest.config import BackupSettings, ConfigError, Settings, load_settings
from ingest.daemon_status import DaemonStatus
from storage.backup import LOCK_NAME, PARTIAL_PREFIX, back_up, backup_lock, leftovers, snapshots
from storage.backup_retention import Keep


def setup(tmp_path: Path, invoices: int = 3, extra: str = "") -> Path:
    assert fapiao("init", "data", cwd=tmp_path).returncode == 0
    config = tmp_path / "data" / "config.toml"
    with config.open("a", encoding="utf-8") as out:
        out.write(f'\n[backup]\ndir = "../backups"\n{extra}')
    for i in range(invoices):
        (tmp_path / "data" / "inbox" / f"{i}.pdf").write_bytes(invoice(300 + i))
    imported = fapiao("import", "--config", str(config), str(tmp_path / "data" / "inbox"), cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    return config


def test_now_list_verify_and_restore_from_the_command_line(tmp_path: Path) -> None:
    config = setup(tmp_path)
    now = fapiao("backup", "now", "--config", str(config), cwd=tmp_path)
    assert now.returncode == 0, now.stderr
    assert "0 unchanged (hard links), 5 copied" in now.stdout  # 3 invoices, index.csv, config.toml
    name = snapshots(tmp_path / "backups")[-1].name
    assert name in now.stdout

    listed = fapiao("backup", "list", "--config", str(config), cwd=tmp_path)
    assert listed.returncode == 0
    assert name in listed.stdout and "hard links" in listed.stdout

    verified = fapiao("backup", "verify", "--config", str(config), cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout
    assert f"verify {name}: 6 files" in verified.stdout and "all match" in verified.stdout

    restored = fapiao(
        "backup", "restore", name, "--to", str(tmp_path / "restored"), "--config", str(config), cwd=tmp_path
    )
    assert restored.returncode == 0, restored.stderr
    check = fapiao("check", "--config", str(tmp_path / "restored" / "config.toml"), cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "database and tree agree" in check.stdout
    assert (tmp_path / "restored" / "config.original.toml").read_text(encoding="utf-8") == config.read_text(
        encoding="utf-8"
    )

    again = fapiao("backup", "restore", name, "--to", str(tmp_path / "restored"), "--config", str(config), cwd=tmp_path)
    assert again.returncode == 1
    assert "is not empty" in again.stderr


def test_a_damaged_snapshot_fails_verify_and_names_the_file(tmp_path: Path) -> None:
    config = setup(tmp_path)
    assert fapiao("backup", "now", "--config", str(config), cwd=tmp_path).returncode == 0
    snapshot = snapshots(tmp_path / "backups")[-1]
    damaged = sorted((snapshot.path / "archive").rglob("*.pdf"))[0]
    damaged.chmod(0o644)
    damaged.write_bytes(damaged.read_bytes().replace(b"%PDF", b"%PDX", 1))
    verified = fapiao("backup", "verify", snapshot.name, "--config", str(config), cwd=tmp_path)
    assert verified.returncode == 1
    relative = damaged.relative_to(snapshot.path).as_posix()
    assert f"{snapshot.name}: {relative}: content changed" in verified.stdout
    assert "1 difference" in verified.stdout and "1 differences" not in verified.stdout
    # A restore still gives back everything, and says which file did not match.
    restored = fapiao("backup", "restore", str(snapshot.path), "--to", str(tmp_path / "r"), cwd=tmp_path)
    assert restored.returncode == 1
    assert f"problem: {relative}: content changed" in restored.stderr
    assert (tmp_path / "r" / relative).read_bytes() == damaged.read_bytes()


@pytest.mark.parametrize("form", ["tar", "zip"])
def test_a_single_file_export_restores_anywhere(tmp_path: Path, form: str) -> None:
    config = setup(tmp_path)
    now = fapiao("backup", "now", "--format", form, "--config", str(config), cwd=tmp_path)
    assert now.returncode == 0, now.stderr
    snapshot = snapshots(tmp_path / "backups")[-1]
    export = tmp_path / "backups" / f"{snapshot.name}.{form}"
    assert f"exported as {export}" in now.stdout
    copied = tmp_path / "cloud" / export.name
    copied.parent.mkdir()
    copied.write_bytes(export.read_bytes())
    assert fapiao("backup", "verify", str(copied), cwd=tmp_path).returncode == 0
    restored = fapiao("backup", "restore", str(copied), "--to", str(tmp_path / "restored"), cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    check = fapiao("check", "--config", str(tmp_path / "restored" / "config.toml"), cwd=tmp_path)
    assert check.returncode == 0, check.stdout


def test_a_second_backup_at_the_same_time_is_refused(tmp_path: Path) -> None:
    config = setup(tmp_path, invoices=1)
    (tmp_path / "backups").mkdir()
    with backup_lock(tmp_path / "backups"):
        busy = fapiao("backup", "now", "--config", str(config), cwd=tmp_path)
    assert busy.returncode == 1
    assert "another backup" in busy.stderr and LOCK_NAME in busy.stderr
    assert snapshots(tmp_path / "backups") == []


def test_list_shows_an_interrupted_backup_as_incomplete(tmp_path: Path) -> None:
    config = setup(tmp_path, invoices=1)
    (tmp_path / "backups" / f"{PARTIAL_PREFIX}2025-01-01_030000" / "archive").mkdir(parents=True)
    listed = fapiao("backup", "list", "--config", str(config), cwd=tmp_path)
    assert "no snapshots in" in listed.stdout
    assert f"incomplete: {PARTIAL_PREFIX}2025-01-01_030000" in listed.stdout
    now = fapiao("backup", "now", "--config", str(config), cwd=tmp_path)
    assert f"removed {PARTIAL_PREFIX}2025-01-01_030000, left by an interrupted backup" in now.stdout
    assert leftovers(tmp_path / "backups") == []


def test_backup_without_a_backup_folder_says_how_to_add_one(tmp_path: Path) -> None:
    assert fapiao("init", "data", cwd=tmp_path).returncode == 0
    result = fapiao("backup", "now", "--config", str(tmp_path / "data" / "config.toml"), cwd=tmp_path)
    assert result.returncode == 2
    assert "[backup] dir" in result.stderr


def test_unknown_snapshot_and_bad_options_are_named(tmp_path: Path) -> None:
    config = setup(tmp_path, invoices=1)
    missing = fapiao("backup", "restore", "2020-01-01_000000", "--to", "r", "--config", str(config), cwd=tmp_path)
    assert missing.returncode == 1 and "no snapshot '2020-01-01_000000'" in missing.stderr
    bad = fapiao("backup", "now", "--format", "rar", "--config", str(config), cwd=tmp_path)
    assert bad.returncode == 2 and "choose folder, tar or zip" in bad.stderr
    nothing = fapiao("backup", "verify", "--config", str(config), cwd=tmp_path)
    assert nothing.returncode == 1 and "no snapshots to verify" in nothing.stderr
    not_a_snapshot = tmp_path / "x.zip"
    not_a_snapshot.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    damaged = fapiao("backup", "verify", str(not_a_snapshot), cwd=tmp_path)
    assert damaged.returncode == 1 and "not a fapiao snapshot export" in damaged.stdout


# --- config -------------------------------------------------------------------------------------------


def config_file(tmp_path: Path, backup: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[archive]\nroot = "archive"\n\n[backup]\n{backup}\n', encoding="utf-8")
    return path


def test_the_backup_section_is_read(tmp_path: Path) -> None:
    settings = load_settings(
        config_file(tmp_path, 'dir = "backups"\nschedule = "30 2 * * 1-5"\nkeep = { daily = 3, monthly = 24 }')
    )
    assert settings.backup == BackupSettings(
        dir=tmp_path / "backups", schedule="30 2 * * 1-5", keep=Keep(daily=3, weekly=4, monthly=24)
    )


@pytest.mark.parametrize(
    ("backup", "message"),
    [
        ('dir = "b"\nschedule = "0 3 * *"', "is not a cron line (minute hour day month weekday"),
        ('dir = "b"\nschedule = "0 25 * * *"', "higher than the maximum value"),
        ('schedule = "0 3 * * *"', "schedule needs a dir"),
        ('dir = "archive/backups"', "overlaps the archive root"),
        ('dir = "b"\nkeep = { daily = -1 }', "keep counts cannot be negative"),
        ('dir = "b"\nkeep = { yearly = 2 }', "unknown key 'yearly' in [backup] keep; allowed: daily, weekly, monthly"),
        ('dir = "b"\nkeep = 7', "[backup] keep must be a dict"),
        ('dirs = "b"', "unknown key 'dirs' in [backup]"),
    ],
)
def test_backup_config_mistakes_are_named(tmp_path: Path, backup: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(config_file(tmp_path, backup))
    assert message in str(raised.value)


def test_a_backup_folder_inside_a_watched_folder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[watch]]\npath = "inbox"\n\n[backup]\ndir = "inbox/backups"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="overlaps a watched folder"):
        load_settings(path)


# --- the daemon -----------------------------------------------------------------------------------------


def daily_at_two_hours_ago() -> str:
    """A daily schedule whose last time was 2 to 3 hours ago: a snapshot a minute old is after it."""
    return f"0 {(datetime.now() - timedelta(hours=2)).hour} * * *"


def with_a_snapshot_taken(tmp_path: Path, taken: datetime) -> Settings:
    """Daemon settings with a daily backup 2 to 3 hours ago, and a snapshot taken at `taken`."""
    settings = settings_for(tmp_path)
    backup = BackupSettings(dir=tmp_path / "backups", schedule=daily_at_two_hours_ago())
    with filled_archive(settings.archive.root, 1) as archive:
        back_up(source_of(archive), tmp_path / "backups", keep=Keep(), now=lambda: taken)
    return dataclasses.replace(settings, backup=backup)


def test_a_missed_backup_is_made_when_the_daemon_starts(tmp_path: Path) -> None:
    two_days_ago = datetime.now().astimezone() - timedelta(days=2)
    settings, backups = with_a_snapshot_taken(tmp_path, two_days_ago), tmp_path / "backups"
    with running_daemon(settings) as running:
        wait_until(lambda: len(snapshots(backups)) == 2, what="the missed backup")
        assert running.daemon.backup is not None
        wait_until(lambda: running.daemon.status().backup_next is not None, what="the next backup time")
    assert snapshots(backups)[-1].taken > two_days_ago.replace(tzinfo=None)


def test_no_backup_at_start_when_the_last_one_is_newer_than_the_schedule(tmp_path: Path) -> None:
    a_minute_ago = datetime.now().astimezone() - timedelta(minutes=1)
    settings, backups = with_a_snapshot_taken(tmp_path, a_minute_ago), tmp_path / "backups"
    with running_daemon(settings) as running:
        (running.inbox / "a.pdf").write_bytes(invoice(400))
        running.wait_for_arrival(running.inbox / "a.pdf")
        status = running.daemon.status()
    assert len(snapshots(backups)) == 1 and leftovers(backups) == []
    assert status.backup_next is not None
    assert datetime.fromisoformat(status.backup_next) > datetime.now().astimezone() + timedelta(hours=20)


def test_run_once_makes_a_backup_that_is_due(tmp_path: Path) -> None:
    config = setup(tmp_path, invoices=2, extra='schedule = "0 3 * * *"\n')
    once = fapiao("run", "--once", "--config", str(config), cwd=tmp_path)
    assert once.returncode == 0, once.stdout + once.stderr
    assert len(snapshots(tmp_path / "backups")) == 1
    assert "backup snapshot" in once.stdout
    again = fapiao("run", "--once", "--config", str(config), cwd=tmp_path)  # not due again until 03:00
    assert again.returncode == 0
    assert len(snapshots(tmp_path / "backups")) == 1
    status = fapiao("status", "--config", str(config), cwd=tmp_path)
    assert f"backups: {tmp_path / 'backups'}; 1 snapshots; last {snapshots(tmp_path / 'backups')[0].name}" in (
        status.stdout
    )


def test_a_failed_scheduled_backup_is_in_the_status(tmp_path: Path) -> None:
    settings = dataclasses.replace(
        settings_for(tmp_path),
        backup=BackupSettings(dir=tmp_path / "unplugged" / "backups", schedule="0 3 * * *"),
    )
    with running_daemon(settings) as running:
        backup = running.daemon.backup
        assert backup is not None
        wait_until(lambda: backup.last_error, what="the failed backup at start")
        status = running.daemon.status()
    assert "is the drive mounted?" in status.backup_error
    lines = backup_lines(settings, status, datetime.fromisoformat(status.updated_at))
    assert any(line.startswith("  last backup failed (") and "is the drive mounted?" in line for line in lines)


def test_status_lines_without_backups_say_so() -> None:
    assert backup_lines(Settings(), None, datetime.now()) == [
        "backups: none configured (add [backup] dir, see config.example.toml)"
    ]


def test_the_status_of_a_running_daemon_shows_the_next_backup(tmp_path: Path) -> None:
    settings = dataclasses.replace(
        settings_for(tmp_path), backup=BackupSettings(dir=tmp_path / "backups", schedule="0 3 * * *")
    )
    now = datetime.now().astimezone()
    status = DaemonStatus(pid=1, started_at=now.isoformat(), updated_at=now.isoformat(), backup_next=now.isoformat())
    lines = backup_lines(settings, status, now)
    assert lines[0] == f"backups: {tmp_path / 'backups'}; 0 snapshots; no snapshot yet"
    assert lines[1] == f"  schedule: 0 3 * * *; next {now:%Y-%m-%d %H:%M}"
