"""Read a mailbox's password or OAuth token from where the config says: an environment variable, a file, a command.

Every error names the source (the variable, the file, the command line) but never holds the secret, nor anything a
command printed: a `SecretError` may end up in a log or on a shared terminal.

A secret file must not be readable by group or others (POSIX): it is refused with the `chmod 600` to run, as ssh
does with keys. Container secret mounts are often 0444; give them mode 0400 (compose `secrets: mode: 0400`,
Kubernetes `defaultMode: 0400`) or use password_env instead.

A command runs without a shell (its line split as a shell would, `shlex.split`), with no input; the first line of
its standard output is the secret. Its standard error is not captured: it reaches our standard error as it is, so
`pass` or `gpg` can say why they failed without us ever reading (or logging) what they wrote.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path

from ingest.mail_config import Secret

_MAX_FILE_BYTES = 64 * 1024  # a password or token is far shorter; more is a wrong file


class SecretError(Exception):
    """The secret could not be read; the message names its source, never the secret."""


def read_secret(secret: Secret, *, env: Mapping[str, str] = os.environ, timeout: float = 30) -> str:
    """The password or token `secret` points to: the environment variable's value, the file's or the command's
    first line (stripped of surrounding white space). Raises SecretError when there is none."""
    if secret.kind == "env":
        return _from_env(secret.source, env)
    if secret.kind == "file":
        return _from_file(Path(secret.source))
    if secret.kind == "command":
        return _from_command(secret.source, timeout)
    raise SecretError(f"unknown secret source kind {secret.kind!r}; choose env, file or command")


def _from_env(name: str, env: Mapping[str, str]) -> str:
    if name not in env:
        raise SecretError(f"environment variable {name} is not set")
    value = _first_line(env[name])
    if not value:
        raise SecretError(f"environment variable {name} is empty")
    return value


def _from_file(path: Path) -> str:
    try:
        with path.open("rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            if os.name == "posix" and mode & (stat.S_IRGRP | stat.S_IROTH):
                raise SecretError(
                    f"secret file {path} can be read by other users (mode {stat.S_IMODE(mode):o}); "
                    f"run: chmod 600 {shlex.quote(str(path))}"
                )
            data = file.read(_MAX_FILE_BYTES + 1)
    except FileNotFoundError as exc:
        raise SecretError(f"secret file {path} does not exist") from exc
    except IsADirectoryError as exc:
        raise SecretError(f"secret file {path} is a folder, not a file") from exc
    except PermissionError as exc:
        raise SecretError(f"secret file {path} cannot be read: permission denied") from exc
    except OSError as exc:
        raise SecretError(f"secret file {path} cannot be read: {exc.strerror}") from exc
    if len(data) > _MAX_FILE_BYTES:
        raise SecretError(f"secret file {path} is larger than {_MAX_FILE_BYTES // 1024} KiB: not a password file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:  # not chained: its repr quotes the bytes
        raise SecretError(f"secret file {path} is not UTF-8 text") from None
    value = _first_line(text)
    if not value:
        raise SecretError(f"secret file {path} is empty (the secret is its first line)")
    return value


def _from_command(command_line: str, timeout: float) -> str:
    try:
        argv = shlex.split(command_line)
    except ValueError as exc:
        raise SecretError(f"secret command {command_line!r} cannot be split into words: {exc}") from None
    if not argv:
        raise SecretError("the secret command is empty")
    try:
        result = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=None,  # the command's own words about a failure, straight to our stderr, unread
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise SecretError(f"secret command {command_line!r}: {argv[0]} not found") from None
    except PermissionError:
        raise SecretError(f"secret command {command_line!r}: {argv[0]} is not executable") from None
    except subprocess.TimeoutExpired:  # its repr holds the output read so far
        raise SecretError(f"secret command {command_line!r} did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise SecretError(f"secret command {command_line!r} could not start: {exc.strerror}") from None
    if result.returncode != 0:
        how = f"was killed by signal {-result.returncode}" if result.returncode < 0 else "failed"
        raise SecretError(f"secret command {command_line!r} {how} (exit status {result.returncode})")
    try:
        value = _first_line(result.stdout.decode("utf-8"))
    except UnicodeDecodeError:
        raise SecretError(f"secret command {command_line!r} printed something that is not UTF-8 text") from None
    if not value:
        raise SecretError(f"secret command {command_line!r} printed nothing on its first line")
    return value


def _first_line(text: str) -> str:
    lines = text.splitlines()
    return lines[0].strip() if lines else ""
