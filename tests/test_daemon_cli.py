"""`fapiao init`, `fapiao run` and `fapiao status` as a user runs them: separate processes, real signals."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from cli_run import fapiao
from daemon_run import invoice, wait_until


def start_daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ingest.cli", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=config.parent,
            env={"PATH": "/usr/bin:/bin"},
        )


def count(database: Path, query: str) -> int:
    if not database.exists():
        return 0
    with sqlite3.connect(database, timeout=30) as connection:
        try:
            value = connection.execute(query).fetchone()[0]
        except sqlite3.OperationalError:  # the schema is not created yet
            return 0
    connection.close()
    return int(value)


def init(tmp_path: Path, extra: str = "") -> Path:
    assert fapiao("init", str(tmp_path / "data"), cwd=tmp_path).returncode == 0
    config = tmp_path / "data" / "config.toml"
    text = config.read_text(encoding="utf-8").replace('after = "keep"', f'after = "keep"\nsettle_seconds = 0.2{extra}')
    config.write_text(text, encoding="utf-8")
    return config


def test_init_writes_a_config_that_runs_and_never_overwrites(tmp_path: Path) -> None:
    first = fapiao("init", "data", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "data" / "inbox").is_dir()
    config = tmp_path / "data" / "config.toml"
    written = config.read_text(encoding="utf-8")
    again = fapiao("init", "data", cwd=tmp_path)
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert config.read_text(encoding="utf-8") == written
    (tmp_path / "data" / "inbox" / "a.pdf").write_bytes(invoice(200))
    once = fapiao("run", "--once", "--config", str(config), cwd=tmp_path)
    assert once.returncode == 0, once.stdout + once.stderr
    assert "archived folder:" in once.stdout
    assert len(list((tmp_path / "data" / "archive").rglob("*.pdf"))) == 1


def test_run_without_a_watched_folder_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[archive]\nroot = "archive"\n', encoding="utf-8")
    result = fapiao("run", "--config", "config.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "nothing to watch" in result.stderr
    assert "fapiao init" in result.stderr


def test_run_once_exits_1_when_a_file_failed_and_0_when_it_is_fixed(tmp_path: Path) -> None:
    config = init(tmp_path, "\n[daemon]\nmax_attempts = 1")
    inbox = tmp_path / "data" / "inbox"
    (inbox / "a.pdf").write_bytes(invoice(201))
    (inbox / "broken.pdf").write_bytes(b"")
    failed = fapiao("run", "--once", "--config", str(config), cwd=tmp_path)
    assert failed.returncode == 1
    assert "broken.pdf" in failed.stdout
    assert "1 files failed" in failed.stdout
    # Quarantined: the next pass leaves it alone and succeeds.
    again = fapiao("run", "--once", "--config", str(config), cwd=tmp_path)
    assert again.returncode == 0, again.stdout
    status = fapiao("status", "--config", str(config), cwd=tmp_path)
    assert "daemon: stopped" in status.stdout
    assert f"quarantined: {inbox / 'broken.pdf'}: broken.pdf: empty file" in status.stdout


def test_sigterm_during_a_burst_loses_and_doubles_nothing(tmp_path: Path) -> None:
    config = init(tmp_path)
    inbox = tmp_path / "data" / "inbox"
    database = tmp_path / "data" / "archive" / ".fapiao" / "fapiao.db"
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        wait_until(lambda: "running;" in log.read_text(encoding="utf-8"), what="the daemon to start")
        for i in range(40):
            (inbox / f"{i:02d}.pdf").write_bytes(invoice(300 + i))
        wait_until(lambda: count(database, "select count(*) from arrivals") >= 5, what="the first arrivals")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0
    finally:
        daemon.kill()
    text = log.read_text(encoding="utf-8")
    assert "SIGTERM received" in text
    assert "stopped" in text
    taken = count(database, "select count(*) from arrivals")
    assert taken < 40, "the stop came too late to test anything"
    # Restarted: the rest is taken, and what was taken before is not taken again.
    daemon = start_daemon(config, log)
    try:
        wait_until(lambda: count(database, "select count(*) from invoices") == 40, what="all forty invoices")
        status = fapiao("status", "--config", str(config), cwd=tmp_path)
        assert "daemon: running" in status.stdout
        assert f"source folder:{inbox}: watching" in status.stdout
        daemon.send_signal(signal.SIGINT)
        assert daemon.wait(timeout=60) == 0
    finally:
        daemon.kill()
    assert count(database, "select count(*) from stored_files") == 40
    assert count(database, "select count(*) from arrivals") == 40
    assert count(database, "select count(*) from arrivals where outcome != 'archived'") == 0
    assert count(database, "select max(attempts) from arrivals") == 1
    check = fapiao("check", "--config", str(config), cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_log_goes_to_the_configured_file(tmp_path: Path) -> None:
    config = init(tmp_path, '\n[daemon]\nlog_file = "logs/fapiao.log"')
    (tmp_path / "data" / "inbox" / "a.pdf").write_bytes(invoice(202))
    result = fapiao("run", "--once", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "archived" not in result.stdout
    logged = (tmp_path / "data" / "logs" / "fapiao.log").read_text(encoding="utf-8")
    assert "INFO archived folder:" in logged
    assert "a.pdf -> 20" in logged


def test_a_second_daemon_on_the_same_archive_refuses_to_start(tmp_path: Path) -> None:
    config = init(tmp_path)
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        wait_until(lambda: "running;" in log.read_text(encoding="utf-8"), what="the daemon to start")
        second = fapiao("run", "--once", "--config", str(config), cwd=tmp_path)
        assert second.returncode == 1
        assert f"another fapiao run (pid {daemon.pid}) is using this archive" in second.stdout
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0
    finally:
        daemon.kill()
    # The lock went with the process: the next run starts.
    assert fapiao("run", "--once", "--config", str(config), cwd=tmp_path).returncode == 0
