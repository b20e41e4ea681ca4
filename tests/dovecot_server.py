"""A throwaway Dovecot IMAP server for the tests: its own config, CA, users and mail in a temp folder, on loopback.

`running_dovecot()` starts Debian's Dovecot 2.3 (`/usr/sbin/dovecot`, packages dovecot-core and dovecot-imapd, which
scripts/test installs where it may; this module installs nothing) as `dovecot -F -c <tmp>/dovecot.conf` in its own
process group, with an IMAPS listener and a plain one (STARTTLS, or plaintext login) on free ports of 127.0.0.1, and a
certificate signed by a CA made at start (`Dovecot.ca_file`, SAN localhost and 127.0.0.1). On exit the process group is
killed (SIGKILL) and waited for, and the temp folder removed.

Everything lives under one `mkdtemp()` in /tmp (not pytest's 0700 tmp_path: as root the mail processes run as
nobody/nogroup, since Dovecot refuses mail access as uid 0, and must reach their mail folder; socket paths also stay
under 108 bytes). As a normal user, Dovecot's login and internal processes run as that user, and no service is
chrooted (only root may chroot: anvil, chrooted by default, would fail to start and every login wait 5 s for it).

Users are checked against one passwd file each (`passwd.d/<user>`, scheme PLAIN): Dovecot re-reads a passwd file at
most once a second, so a user added to a shared file would not be seen at once. XOAUTH2 and OAUTHBEARER are
offered too; Dovecot 2.3 hands their bearer token to the passdb as the password, so a user whose password is the
token logs in with `IMAPClient.oauth2_login()`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import grp
import ipaddress
import math
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import cast

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from imapclient import IMAPClient

DOVECOT = Path("/usr/sbin/dovecot")
DOVEADM = Path("/usr/bin/doveadm")
HOST = "127.0.0.1"
START_TIMEOUT = 10.0  # seconds for the server to answer a LOGOUT on both listeners
STOP_TIMEOUT = 5.0  # seconds for every process of the group to be gone after SIGKILL
START_ATTEMPTS = 5  # a free port taken by someone else between our probe and Dovecot's bind: new ports, try again
_CAPABILITY_PROBE_USER = "capability-probe"
# Services whose default (Dovecot 2.3) chroots them: `doveconf -d | grep -B30 "chroot = ."`
_CHROOTED_SERVICES = (
    "aggregator",
    "anvil",
    "director",
    "imap-login",
    "imap-urlauth-login",
    "ipc",
    "old-stats",
    "pop3-login",
    "submission-login",
)
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]*")


def dovecot_binary() -> Path | None:
    """The Dovecot 2.3 master binary, or None when it is not installed (the tests then skip, or fail under CI)."""
    if not (DOVECOT.is_file() and DOVEADM.is_file()):
        return None
    return DOVECOT


def dovecot_version() -> str:
    out = subprocess.run([str(DOVECOT), "--version"], capture_output=True, text=True, check=True, timeout=30)
    return out.stdout.strip()


class DovecotError(RuntimeError):
    pass


class _PortClashError(DovecotError):
    pass


def _free_ports(count: int) -> list[int]:
    """Ports the kernel calls free right now (all held open together, so they differ); Dovecot binds them later."""
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind((HOST, 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def process_group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs. Zombies do not count: they hold no files or ports, and the
    children of Dovecot's master, orphaned when it dies, wait for init to reap them (up to ~1 s on some machines)."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():  # no procfs: count zombies too
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        state, _ppid, group = stat[stat.rindex(")") + 2 :].split()[:3]  # the name in (...) may hold spaces
        if int(group) == pgid and state not in ("Z", "X"):
            return True
    return False


def _write_test_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate it signs (SAN localhost and 127.0.0.1); returns (ca, cert, key) PEM paths."""
    now = dt.datetime.now(dt.UTC)
    valid_from, valid_to = now - dt.timedelta(hours=1), now + dt.timedelta(days=2)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fapiao-inbox test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.touch(mode=0o600)
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_file, cert_file, key_file


class Dovecot:
    """A Dovecot started by `running_dovecot()`; its folder is `directory` (config, log, CA, passwd files, mail)."""

    host = HOST

    def __init__(self, directory: Path, *, idle: bool, move: bool = True) -> None:
        self.directory = directory
        self.idle = idle
        self.move = move
        self.config_file = directory / "dovecot.conf"
        self.log_file = directory / "dovecot.log"
        self.passwd_dir = directory / "passwd.d"
        self.mail_dir = directory / "mail"
        self.imaps_port = 0
        self.imap_port = 0
        self._instance = f"fapiao-test-{secrets.token_hex(4)}"
        self._passwords: dict[str, str] = {}
        self._capability: str | None = None  # imap_capability when IDLE or MOVE is left out
        self._process: subprocess.Popen[bytes] | None = None
        self._as_root = os.geteuid() == 0
        if self._as_root:  # Dovecot refuses mail access as root
            self._mail_user, self._mail_group = "nobody", "nogroup"
        else:
            self._mail_user = pwd.getpwuid(os.geteuid()).pw_name
            self._mail_group = grp.getgrgid(os.getegid()).gr_name
        ssl_dir = directory / "ssl"
        ssl_dir.mkdir()
        self.ca_file, self._cert_file, self._key_file = _write_test_ca(ssl_dir)
        for sub in ("run", "state"):
            (directory / sub).mkdir()
        self.passwd_dir.mkdir(mode=0o755)  # the auth process may run as Dovecot's internal user
        self.mail_dir.mkdir()
        if self._as_root:
            account = pwd.getpwnam(self._mail_user)
            os.chown(self.mail_dir, account.pw_uid, grp.getgrnam(self._mail_group).gr_gid)
            directory.chmod(0o711)  # mkdtemp makes it 0700; login, auth and mail processes do not run as root

    # --- the server -------------------------------------------------------------------------------------------

    def _config(self) -> str:
        d = self.directory
        mail_uid = pwd.getpwnam(self._mail_user).pw_uid
        lines = [
            f"instance_name = {self._instance}",
            f"base_dir = {d / 'run'}",
            f"state_dir = {d / 'state'}",
            f"log_path = {self.log_file}",
            "protocols = imap",
            f"listen = {HOST}",
            f"login_greeting = {self._instance} ready",
            "ssl = yes",
            f"ssl_cert = <{self._cert_file}",
            f"ssl_key = <{self._key_file}",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login xoauth2 oauthbearer",
            "auth_failure_delay = 0",
            "auth_verbose = yes",
            "passdb {",
            "  driver = passwd-file",
            f"  args = scheme=PLAIN {self.passwd_dir}/%u",
            "}",
            "userdb {",
            "  driver = static",
            f"  args = home={self.mail_dir}/%u",
            "}",
            f"mail_uid = {self._mail_user}",
            f"mail_gid = {self._mail_group}",
            f"first_valid_uid = {min(mail_uid, 500)}",
            "mail_location = maildir:~/Maildir",
            "mail_fsync = never",
            "mailbox_idle_check_interval = 1 secs",
            "imap_id_log = *",
        ]
        if self._capability is not None:
            lines.append(f"imap_capability = {self._capability}")
        if not self._as_root:
            me = pwd.getpwuid(os.geteuid()).pw_name
            group = grp.getgrgid(os.getegid()).gr_name
            lines += [
                f"default_login_user = {me}",
                f"default_internal_user = {me}",
                f"default_internal_group = {group}",
            ]
        lines += [
            "service imap-login {",
            "  inet_listener imap {",
            f"    address = {HOST}",
            f"    port = {self.imap_port}",
            "  }",
            "  inet_listener imaps {",
            f"    address = {HOST}",
            f"    port = {self.imaps_port}",
            "    ssl = yes",
            "  }",
            "}",
            # Without this one failed login makes every later login from 127.0.0.1 wait 2-15 s (auth penalty).
            "service anvil {",
            "  unix_listener anvil-auth-penalty {",
            "    mode = 0",
            "  }",
            "}",
        ]
        if not self._as_root:  # only root may chroot: anvil failing to start delays every login by 5 s
            lines += [f"service {service} {{\n  chroot =\n}}" for service in _CHROOTED_SERVICES]
        return "\n".join(lines) + "\n"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The master's pid, which is also its process group's id; None while stopped."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the server (again): same ports when free, else new ones. Returns once both listeners answer."""
        if self.running:
            raise DovecotError("Dovecot is already running")
        for attempt in range(START_ATTEMPTS):
            if attempt or not self.imap_port:
                self.imap_port, self.imaps_port = _free_ports(2)
            try:
                self._start_once()
                return
            except _PortClashError:
                if attempt == START_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> None:
        self.config_file.write_text(self._config(), encoding="utf-8")
        log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
        stderr_file = self.directory / "master.stderr"
        with stderr_file.open("wb") as stderr:
            self._process = subprocess.Popen(
                [str(DOVECOT), "-F", "-c", str(self.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,  # its own process group, killed as one by stop()
            )
        deadline = time.monotonic() + START_TIMEOUT
        waiting = [(self.imaps_port, True), (self.imap_port, False)]
        while waiting:
            if self._process.poll() is not None:
                self._process = None
                output = stderr_file.read_text(errors="replace") + self._log_since(log_start)
                if "Address already in use" in output:
                    raise _PortClashError(output)
                raise DovecotError(f"Dovecot exited at start:\n{output}")
            if time.monotonic() > deadline:
                self.stop()
                raise DovecotError(f"Dovecot did not answer within {START_TIMEOUT} s:\n{self._log_since(log_start)}")
            port, tls = waiting[0]
            try:
                answered = self._answers_logout(port, tls)
            except _PortClashError:
                self.stop()
                raise
            if answered:
                waiting.pop(0)
            else:
                time.sleep(0.01)

    def _answers_logout(self, port: int, tls: bool) -> bool:
        """True when this very server (its greeting names our instance) completed a LOGOUT on the port."""
        try:
            client = IMAPClient(self.host, port, ssl=tls, ssl_context=self.ssl_context(), timeout=2.0)
        except (OSError, IMAPClient.Error):
            return False
        try:
            ours = self._instance.encode() in cast(bytes, client.welcome)
            client.logout()
        except (OSError, IMAPClient.Error):
            return False
        if not ours:
            raise _PortClashError(f"another server answers on port {port}")
        return True

    def _log_since(self, offset: int) -> str:
        with contextlib.suppress(FileNotFoundError), self.log_file.open("rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", errors="replace")
        return ""

    def stop(self) -> None:
        """SIGKILL the whole process group and wait until every process of it is gone (SIGTERM would take ~1 s)."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)
        deadline = time.monotonic() + STOP_TIMEOUT
        while process_group_alive(process.pid):
            if time.monotonic() > deadline:
                raise DovecotError(f"processes of Dovecot's group {process.pid} still running after SIGKILL")
            time.sleep(0.005)

    def _discover_capability_without(self, dropped: Iterable[str]) -> None:
        """imap_capability can only replace Dovecot's list, so ask a running server for its list and drop some.

        Only the advertised list changes: a client that checks it takes its fallback."""
        left_out = set(dropped)
        self.add_user(_CAPABILITY_PROBE_USER, secrets.token_hex(8))
        client = self.login(_CAPABILITY_PROBE_USER)
        try:
            capabilities = [c.decode() for c in cast(tuple[bytes, ...], client.capabilities())]
        finally:
            client.logout()
        self._capability = " ".join(c for c in capabilities if c not in left_out)
        (self.passwd_dir / _CAPABILITY_PROBE_USER).unlink()
        del self._passwords[_CAPABILITY_PROBE_USER]
        self.stop()
        shutil.rmtree(self.mail_dir / _CAPABILITY_PROBE_USER, ignore_errors=True)
        self.start()

    # --- clients, users and mail ------------------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts only the test CA, hostname checked (as the real client's default is)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def add_user(self, name: str, password: str) -> None:
        """A new user, seen by the next login at once; the mail folder is made on first login.

        For an existing user this changes the password, which takes up to a second: Dovecot stats a passwd file at
        most once a second and re-reads it only when its mtime (whole seconds) or size changed."""
        if not _SAFE_NAME.fullmatch(name):
            raise ValueError(f"user name {name!r}: use letters, digits and ._@+- only")
        if any(c in password for c in ":\n\r") or not password:
            raise ValueError("a password must be non-empty, without ':' or line breaks (passwd-file format)")
        entry = self.passwd_dir / name
        fresh = self.passwd_dir / f".{name}.new"
        fresh.write_text(f"{name}:{{PLAIN}}{password}::::::\n", encoding="utf-8")
        fresh.chmod(0o644)
        old_mtime = int(entry.stat().st_mtime) if entry.exists() else None
        if old_mtime is not None:
            new_mtime = max(old_mtime + 1, int(time.time()))
            os.utime(fresh, (new_mtime, new_mtime))
        fresh.replace(entry)  # atomically: auth never reads half a file
        self._passwords[name] = password
        if old_mtime is not None:  # a lookup this second may have stat'ed the old file: the next second re-stats
            now = time.time()
            time.sleep(math.floor(now) + 1 - now + 0.01)

    def password(self, user: str) -> str:
        """The password (or XOAUTH2 token) add_user() gave the user."""
        return self._passwords[user]

    def login(self, user: str, *, timeout: float = 10.0) -> IMAPClient:
        """A client logged in as the user over IMAPS, verifying the test CA; the caller logs out."""
        client = IMAPClient(self.host, self.imaps_port, ssl=True, ssl_context=self.ssl_context(), timeout=timeout)
        try:
            client.login(user, self._passwords[user])
        except BaseException:
            client.shutdown()
            raise
        return client

    def append(
        self,
        user: str,
        folder: str,
        message: bytes,
        flags: Iterable[str | bytes] = (),
        date: dt.datetime | None = None,
    ) -> int:
        """Append a message over IMAP (creating the folder if missing; names may be Chinese); returns its UID."""
        client = self.login(user)
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            response = cast(bytes, client.append(folder, message, flags=tuple(flags), msg_time=date))
        finally:
            client.logout()
        found = re.search(rb"\[APPENDUID \d+ (\d+)\]", response)
        if not found:
            raise DovecotError(f"no APPENDUID in the APPEND response {response!r}")
        return int(found.group(1))

    def append_many(self, user: str, folder: str, messages: Iterable[bytes]) -> list[int]:
        """Append many messages over one connection (a login each would take seconds for hundreds); their UIDs."""
        client = self.login(user)
        uids = []
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for message in messages:
                response = cast(bytes, client.append(folder, message))
                found = re.search(rb"\[APPENDUID \d+ (\d+)\]", response)
                if not found:
                    raise DovecotError(f"no APPENDUID in the APPEND response {response!r}")
                uids.append(int(found.group(1)))
        finally:
            client.logout()
        return uids

    def doveadm(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the real doveadm against this server's config."""
        return subprocess.run(
            [str(DOVEADM), "-c", str(self.config_file), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def kick(self, user: str, *, timeout: float = 5.0) -> None:
        """`doveadm kick`: the user's IMAP processes end and their clients get `* BYE`.

        Waits (with a deadline) until Dovecot's connection tracker (anvil) knows of a connection to kick, so a
        kick right after a login does not miss it. Raises if the user has no connection."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.doveadm("kick", user)
            if result.returncode == 0:  # 68 (EX_NOUSER): "no users kicked"
                return
            if time.monotonic() > deadline:
                raise DovecotError(f"doveadm kick {user}: {result.returncode} {result.stdout} {result.stderr}")
            time.sleep(0.02)

    def set_uidvalidity(self, user: str, folder: str, value: int) -> None:
        """Give the folder a new UIDVALIDITY (`doveadm mailbox update --uid-validity`) while the server runs.

        Its messages stay; a client that has the folder selected is disconnected, a new SELECT sees the value."""
        if not 0 < value < 2**32:
            raise ValueError("UIDVALIDITY is a non-zero 32-bit number")
        result = self.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(value), folder)
        if result.returncode != 0:
            raise DovecotError(f"doveadm mailbox update: {result.returncode} {result.stdout} {result.stderr}")

    def log_text(self, since: int = 0) -> str:
        """The Dovecot log so far (logins, `ID sent: ...` lines, errors); from byte `since` (a `log_size()`) on."""
        return self._log_since(since)

    def log_size(self) -> int:
        """Where the log ends now: `log_text(since=...)` then shows only what came after."""
        return self.log_file.stat().st_size if self.log_file.exists() else 0

    def wait_for_log(self, text: str, *, timeout: float = 5.0) -> str:
        """The log once it contains the text (Dovecot's log process writes a moment after the event)."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.log_text()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the Dovecot log within {timeout} s:\n{log}")
            time.sleep(0.01)
        return log


@contextlib.contextmanager
def running_dovecot(*, idle: bool = True, move: bool = True) -> Iterator[Dovecot]:
    """A started Dovecot on 127.0.0.1; with idle=False, IDLE is left out of its capability list (polling clients);
    with move=False, MOVE is (clients then COPY, mark \\Deleted and expunge, as with QQ Mail)."""
    if dovecot_binary() is None:
        raise DovecotError(f"{DOVECOT} not found (apt-get install dovecot-core dovecot-imapd)")
    version = dovecot_version()
    if not version.startswith("2.3."):
        raise DovecotError(f"this fixture writes a Dovecot 2.3 config; found Dovecot {version}")
    directory = Path(tempfile.mkdtemp(prefix="fapiao-dovecot-", dir="/tmp"))
    server: Dovecot | None = None
    try:
        server = Dovecot(directory, idle=idle, move=move)
        server.start()
        dropped = [name for name, offered in (("IDLE", idle), ("MOVE", move)) if not offered]
        if dropped:
            server._discover_capability_without(dropped)
        yield server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(directory)


def require_dovecot() -> None:
    if dovecot_binary() is None:
        message = (
            "IMAP tests need Dovecot (/usr/sbin/dovecot: apt-get install dovecot-core dovecot-imapd); "
            "scripts/test installs it where it may"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
