"""Open a logged-in IMAP connection for a [[mailbox]], and say plainly what went wrong when that fails.

The one place in ingest/ that makes an `IMAPClient`. TLS is IMAPS (`tls = "ssl"`), STARTTLS, or none (only when the
config asks); the certificate is always verified and its host name checked. With `ca_file` set, that file is the
whole trust store (a private CA), else the system's. After login the client sends ID when the server offers it:
NetEase (163, 126, yeah.net) refuses SELECT to a client that has not said who it is.

Every failure becomes a `MailConnectError` whose `kind` is one of `KINDS` and whose message is one sentence a person
can act on. No message or log line holds the password or token (server texts are scrubbed of it, in case a server
echoes it back).
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from importlib import metadata
from typing import Any, NamedTuple

from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError, LoginError

from ingest.logs import printable
from ingest.mail_config import MailboxSettings

log = logging.getLogger(__name__)

KINDS = ("dns", "refused", "timeout", "network", "tls", "auth", "protocol")
SPECIAL_USE = ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash", "\\Important")
_HOSTNAME_MISMATCH = (62, 64)  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_UNTRUSTED = (2, 18, 19, 20, 21)  # no issuer certificate, self-signed, self-signed in chain, no local issuer
_EXPIRED, _NOT_YET_VALID = 10, 9
_BYTES_REPR = re.compile(r"b(['\"])(.*)\1")


class MailConnectError(Exception):
    """Connecting to or logging in to a mailbox failed; `kind` says how (one of KINDS), the message what to do."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class FolderCount(NamedTuple):
    folder: str
    messages: int
    unseen: int
    uidvalidity: int
    uidnext: int


class Folder(NamedTuple):
    name: str  # decoded from modified UTF-7
    delimiter: str | None  # the hierarchy separator, None for a flat namespace
    flags: tuple[str, ...]  # as the server sent them, e.g. '\\HasNoChildren', '\\Sent'
    special_use: str | None  # '\\Sent', '\\Junk', ... (RFC 6154) when the server marks the folder

    @property
    def selectable(self) -> bool:
        return not any(flag.lower() in ("\\noselect", "\\nonexistent") for flag in self.flags)


def client_id() -> dict[str, str]:
    """What the client tells the server in ID."""
    try:
        version = metadata.version("fapiao-inbox")
    except metadata.PackageNotFoundError:
        version = "0"
    return {"name": "fapiao-inbox", "version": version, "vendor": "fapiao-inbox"}


def connect(mailbox: MailboxSettings, secret: str, *, timeout: float = 30) -> IMAPClient:
    """A client logged in to `mailbox` (and identified by ID where the server offers it); the caller logs out.

    Raises MailConnectError."""
    where = f"{mailbox.host}:{mailbox.port}"
    context = _tls_context(mailbox) if mailbox.tls != "none" else None
    with _explained(mailbox, secret, "connecting", timeout):
        client = IMAPClient(mailbox.host, mailbox.port, ssl=mailbox.tls == "ssl", ssl_context=context, timeout=timeout)
    try:
        if mailbox.tls == "starttls":
            with _explained(mailbox, secret, "STARTTLS", timeout):
                try:
                    client.starttls(context)
                except CapabilityError:
                    raise MailConnectError(
                        "tls",
                        f'{where} does not offer STARTTLS: use tls = "ssl" (port 993), or tls = "none" only on '
                        "a network you trust",
                    ) from None
        # imapclient writes a command and its line end separately; with Nagle on, the second write waits for
        # the server's delayed ACK (40 ms or more) on every command, a quiet poll and each IDLE wake-up too.
        with contextlib.suppress(OSError):
            client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with _explained(mailbox, secret, "login", timeout):
            _login(client, mailbox, secret)
        with _explained(mailbox, secret, "ID", timeout):
            if client.has_capability("ID"):
                client.id_(client_id())
    except BaseException:
        with contextlib.suppress(Exception):
            client.shutdown()
        raise
    log.debug("logged in to %s as %s (%s)", where, mailbox.username, mailbox.tls)
    return client


def _tls_context(mailbox: MailboxSettings) -> ssl.SSLContext:
    if mailbox.ca_file is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=str(mailbox.ca_file))
    except FileNotFoundError:
        raise MailConnectError("tls", f"ca_file {mailbox.ca_file} does not exist") from None
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        raise MailConnectError(
            "tls", f"ca_file {mailbox.ca_file} cannot be read as PEM certificates ({reason})"
        ) from None


def _login(client: IMAPClient, mailbox: MailboxSettings, secret: str) -> None:
    if mailbox.auth == "xoauth2":
        if not client.has_capability("AUTH=XOAUTH2"):
            raise MailConnectError(
                "auth", f'{mailbox.host} does not offer XOAUTH2 login; it may want auth = "password"'
            )
        client.oauth2_login(mailbox.username, secret)
        return
    if client.has_capability("LOGINDISABLED"):
        raise MailConnectError(
            "tls",
            f'{mailbox.host} refuses passwords on an unencrypted connection: set tls = "starttls" or "ssl"',
        )
    client.login(mailbox.username, secret)


@contextlib.contextmanager
def _explained(mailbox: MailboxSettings, secret: str, stage: str, timeout: float) -> Iterator[None]:
    """Turn what the socket, ssl, imaplib and imapclient raise into a MailConnectError that says what to do."""
    try:
        yield
    except MailConnectError:
        raise
    except LoginError as exc:
        raise _auth_error(mailbox, _server_text(exc, secret)) from None
    except ssl.SSLCertVerificationError as exc:
        raise _certificate_error(mailbox, exc) from None
    except ssl.SSLError as exc:
        raise _tls_error(mailbox, stage, exc) from None
    except socket.gaierror as exc:
        raise MailConnectError(
            "dns", f"cannot find the server {mailbox.host}: {exc.strerror} (check host, and the network)"
        ) from None
    except ConnectionRefusedError:
        raise MailConnectError(
            "refused",
            f"cannot reach {mailbox.host}:{mailbox.port}: connection refused (check host and port: "
            f"IMAPS is 993, STARTTLS and plain 143)",
        ) from None
    except TimeoutError:
        advice = "check host, port and any firewall or proxy"
        if stage == "connecting" and mailbox.tls != "ssl" and mailbox.port == 993:
            advice = 'port 993 is IMAPS, where the server waits for TLS first: set tls = "ssl"'
        raise MailConnectError(
            "timeout", f"{mailbox.host}:{mailbox.port} did not answer within {timeout:g} s ({stage}): {advice}"
        ) from None
    except IMAPClient.AbortError as exc:  # imaplib's abort: EOF or garbage where a response should be
        raise MailConnectError(
            "network", f"{mailbox.host}:{mailbox.port} dropped the connection ({stage}): {_server_text(exc, secret)}"
        ) from None
    except OSError as exc:
        raise MailConnectError(
            "network", f"cannot reach {mailbox.host}:{mailbox.port}: {exc.strerror or exc.__class__.__name__}"
        ) from None
    except IMAPClient.Error as exc:
        raise MailConnectError(
            "protocol", f"{mailbox.host} answered {stage} with an error: {_server_text(exc, secret)}"
        ) from None


def _auth_error(mailbox: MailboxSettings, server_said: str) -> MailConnectError:
    refused = f"{mailbox.host} refused the login of {mailbox.username} ({server_said})"
    if mailbox.hint:
        return MailConnectError("auth", f"{mailbox.hint}: {refused}")
    what = "access token (it may have expired)" if mailbox.auth == "xoauth2" else "username and password"
    return MailConnectError("auth", f"{refused}: check the {what}")


def _certificate_error(mailbox: MailboxSettings, exc: ssl.SSLCertVerificationError) -> MailConnectError:
    where = f"{mailbox.host}:{mailbox.port}"
    reason = exc.verify_message or exc.reason or "verification failed"
    if exc.verify_code in _HOSTNAME_MISMATCH:
        return MailConnectError(
            "tls",
            f"the certificate of {where} is not for the name {mailbox.host} ({reason}): use the host name the "
            "provider documents for IMAP",
        )
    if exc.verify_code in (_EXPIRED, _NOT_YET_VALID):
        return MailConnectError(
            "tls", f"the certificate of {where} is not valid now ({reason}): check this computer's clock"
        )
    if exc.verify_code in _UNTRUSTED:
        if mailbox.ca_file is not None:
            return MailConnectError(
                "tls",
                f"the server's certificate is not trusted: {where} is not signed by the CA in ca_file "
                f"{mailbox.ca_file} ({reason})",
            )
        return MailConnectError(
            "tls",
            f"the server's certificate is not trusted: {where} ({reason}); set ca_file if it uses a private CA",
        )
    return MailConnectError("tls", f"the certificate of {where} was rejected: {reason}")


def _tls_error(mailbox: MailboxSettings, stage: str, exc: ssl.SSLError) -> MailConnectError:
    where = f"{mailbox.host}:{mailbox.port}"
    reason = exc.reason or str(exc)
    if reason == "WRONG_VERSION_NUMBER":
        return MailConnectError(
            "tls",
            f'{where} does not speak TLS right away: with tls = "ssl" use the IMAPS port (993); for port 143 set '
            'tls = "starttls"',
        )
    return MailConnectError("tls", f"the TLS handshake with {where} failed ({stage}): {reason}")


def _server_text(exc: BaseException, secret: str) -> str:
    """What the server (or imaplib) said, printable, without the secret should it have been echoed."""
    text = printable(str(exc))
    for prefix in ("login failed: ", "authenticate failed: "):
        text = text.removeprefix(prefix)
    if (quoted := _BYTES_REPR.fullmatch(text)) is not None:  # imapclient formats some server texts as b'...'
        text = quoted.group(2)
    if secret:
        text = text.replace(secret, "***")
    return text.strip() or exc.__class__.__name__


def list_folders(client: IMAPClient) -> list[Folder]:
    """Every folder (LIST "" *), names decoded, with its SPECIAL-USE flag where the server gives one."""
    return [_folder(flags, delimiter, name) for flags, delimiter, name in client.list_folders()]


def _folder(flags: Iterable[Any], delimiter: Any, name: Any) -> Folder:
    texts = tuple(_text(flag) for flag in flags)
    special = next((known for known in SPECIAL_USE for flag in texts if flag.lower() == known.lower()), None)
    return Folder(
        name=_text(name),
        delimiter=_text(delimiter) if delimiter is not None else None,
        flags=texts,
        special_use=special,
    )


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def folder_counts(client: IMAPClient, folders: Iterable[str]) -> list[FolderCount]:
    """STATUS of each folder: messages, unseen, UIDVALIDITY and UIDNEXT (no SELECT, so nothing is marked).

    Raises MailConnectError (kind 'protocol') naming the folder the server refused."""
    counts = []
    for folder in folders:
        try:
            status = client.folder_status(folder, ("MESSAGES", "UNSEEN", "UIDVALIDITY", "UIDNEXT"))
        except (IMAPClient.AbortError, OSError) as exc:
            raise MailConnectError("network", f"the connection dropped during STATUS {folder!r}: {exc}") from None
        except IMAPClient.Error as exc:
            raise MailConnectError("protocol", f"STATUS of folder {folder!r} failed: {printable(str(exc))}") from None
        counts.append(
            FolderCount(
                folder,
                int(status.get(b"MESSAGES", 0)),
                int(status.get(b"UNSEEN", 0)),
                int(status.get(b"UIDVALIDITY", 0)),
                int(status.get(b"UIDNEXT", 0)),
            )
        )
    return counts


# ---------------------------------------------------------------------------------------------------------
# A logged-in session: the few commands the poller uses, each failure as one of two errors


class MailCommandError(Exception):
    """The server refused one command (NO or BAD); the connection is still usable."""


class ConnectionLostError(MailConnectError):
    """The connection broke (EOF, BYE, reset, timeout): reconnect."""

    def __init__(self, message: str) -> None:
        super().__init__("network", message)


class Selected(NamedTuple):
    folder: str
    uidvalidity: int
    uidnext: int  # 0 when the server did not say
    exists: int


HEADER_FIELDS = "HEADER.FIELDS (FROM SENDER SUBJECT MESSAGE-ID DATE)"
_IDLE_STEP_SECONDS = 1.0  # IDLE is checked this often for a stop, a wake-up or acknowledgements to send


class MailSession:
    """One logged-in connection, used by one thread. Every method raises ConnectionLostError when the connection
    broke, and MailCommandError when the server refused the command."""

    def __init__(self, client: IMAPClient, mailbox: MailboxSettings) -> None:
        self.client = client
        self.where = f"{mailbox.host}:{mailbox.port}"
        self.selected: Selected | None = None
        self.readonly = True
        self._delimiter: str | None = None
        self._delimiter_known = False

    @property
    def can_idle(self) -> bool:
        return self._has("IDLE")

    @property
    def can_move(self) -> bool:
        return self._has("MOVE")

    @property
    def can_uid_expunge(self) -> bool:
        return self._has("UIDPLUS")

    def _has(self, capability: str) -> bool:
        with self._errors("CAPABILITY"):
            return bool(self.client.has_capability(capability))

    def select(self, folder: str, *, readonly: bool) -> Selected:
        """SELECT (or EXAMINE when `readonly`: nothing in the folder can change, not even \\Recent)."""
        with self._errors(f"SELECT {folder!r}"):
            answer = self.client.select_folder(self.server_name(folder), readonly=readonly)
        self.selected = Selected(
            folder,
            int(answer.get(b"UIDVALIDITY", 0)),
            int(answer.get(b"UIDNEXT", 0)),
            int(answer.get(b"EXISTS", 0)),
        )
        self.readonly = readonly
        return self.selected

    def uids_above(self, last_uid: int) -> list[int]:
        """UIDs of the selected folder above `last_uid`, ascending. (`UID n:*` always matches the highest UID,
        even one below n: those are dropped.)"""
        self._take_news()  # what was announced before this search, the search sees
        with self._errors("UID SEARCH"):
            found = self.client.search(["UID", f"{last_uid + 1}:*"])
        return sorted(uid for uid in found if uid > last_uid)

    def uids_since(self, day: date | None) -> list[int]:
        """UIDs of messages that arrived on or after `day` (every message when None), ascending."""
        criteria: list[Any] = ["SINCE", day] if day is not None else ["ALL"]
        self._take_news()
        with self._errors("UID SEARCH"):
            return sorted(self.client.search(criteria))

    def fetch(self, uids: Iterable[int], items: Sequence[str]) -> dict[int, dict[bytes, Any]]:
        wanted = list(uids)
        if not wanted:
            return {}
        with self._errors("UID FETCH"):
            answer = self.client.fetch(wanted, list(items))
        return {int(uid): data for uid, data in answer.items()}

    def idle(self, seconds: float, interrupted: Callable[[], bool]) -> bool:
        """IDLE for up to `seconds`, or until `interrupted()`; True when the server said new mail arrived.

        Mail announced since the last search (during a long FETCH, say) counts at once: the server does not
        announce it again in IDLE. imapclient's idle_check returns an empty list at once on EOF, so an empty
        answer well before its timeout, or a BYE, is a lost connection."""
        if self._take_news():
            return True
        with self._errors("IDLE"):
            self.client.idle()
        arrived = _announces_mail(self._buffered_lines())
        deadline = time.monotonic() + seconds
        while not arrived and not interrupted():
            step = min(_IDLE_STEP_SECONDS, deadline - time.monotonic())
            if step <= 0:
                break
            started = time.monotonic()
            with self._errors("IDLE"):
                responses = self.client.idle_check(timeout=step)
            for response in responses:
                if len(response) >= 2 and response[0] == b"BYE":
                    raise ConnectionLostError(f"{self.where} closed the connection: {_text(response[1])}")
            arrived = any(len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT") for response in responses)
            if not responses and time.monotonic() - started < step / 2:
                raise ConnectionLostError(f"{self.where} closed the connection during IDLE")
        with self._errors("IDLE"):
            _text_done, last = self.client.idle_done()
        # Mail announced between the last check and DONE.
        return arrived or any(len(r) >= 2 and r[1] in (b"EXISTS", b"RECENT") for r in last)

    def _take_news(self) -> bool:
        """Whether the server announced new mail (EXISTS) in the answer to an earlier command; forgotten once
        asked. imaplib files such untagged responses away and imapclient never looks at them again."""
        untagged = self.client._imap.untagged_responses
        news = untagged.pop("EXISTS", None) is not None
        untagged.pop("RECENT", None)
        return news

    def _buffered_lines(self) -> list[bytes]:
        """Lines already read off the socket into imaplib's buffer: an EXISTS sent in the same packet as IDLE's
        '+ idling' is there, where idle_check (which polls the socket) would not see it until DONE."""
        imap = self.client._imap
        lines: list[bytes] = []
        sock = self.client.socket()
        sock.setblocking(False)
        try:
            while len(lines) < 1000:
                try:
                    if not imap.file.peek(1):
                        break
                    lines.append(imap._get_line())
                except (BlockingIOError, ssl.SSLWantReadError, InterruptedError):
                    break
        except (IMAPClient.AbortError, OSError, ssl.SSLError) as exc:
            raise ConnectionLostError(f"{self.where}: the connection broke during IDLE: {exc}") from None
        finally:
            sock.setblocking(True)
            self.client._set_read_timeout()
        return lines

    def add_flags(self, uids: Sequence[int], flags: Sequence[str]) -> None:
        with self._errors("UID STORE"):
            self.client.add_flags(list(uids), list(flags), silent=True)

    def move(self, uids: Sequence[int], folder: str) -> str:
        """Move to `folder` (created when missing): MOVE where offered, else COPY, \\Deleted and UID EXPUNGE of
        just these messages. Without UIDPLUS nothing is expunged (a plain EXPUNGE would also remove whatever
        else the person marked deleted); the copies are marked \\Deleted for their mail client to clean up.
        Returns how it was done."""
        target = self.server_name(folder)
        if not self._exists(target):
            with self._errors(f"CREATE {folder!r}"):
                self.client.create_folder(target)
        if self.can_move:
            with self._errors(f"UID MOVE to {folder!r}"):
                self.client.move(list(uids), target)
            return "MOVE"
        with self._errors(f"UID COPY to {folder!r}"):
            self.client.copy(list(uids), target)
        self.add_flags(uids, ["\\Deleted"])
        if not self.can_uid_expunge:
            return "COPY (left marked \\Deleted: the server cannot expunge single messages)"
        with self._errors("UID EXPUNGE"):
            self.client.uid_expunge(list(uids))
        return "COPY + UID EXPUNGE"

    def server_name(self, folder: str) -> str:
        """A folder as the config writes it, '/' between levels ("发票/已归档", as QQ Mail, Gmail and Outlook name
        folders), in the server's own hierarchy delimiter: '.' on many Dovecot and Courier servers, which refuse
        '/' in a name."""
        if "/" not in folder:
            return folder
        if not self._delimiter_known:
            with self._errors("LIST"):
                answer = self.client.list_folders("", "")  # RFC 3501: the delimiter, and no folder
            self._delimiter = next((_text(delimiter) for _flags, delimiter, _name in answer if delimiter), None)
            self._delimiter_known = True
        if self._delimiter is None or self._delimiter == "/":
            return folder
        return folder.replace("/", self._delimiter)

    def _exists(self, folder: str) -> bool:
        with self._errors("LIST"):
            return bool(self.client.folder_exists(folder))

    def close(self) -> None:
        """Log out politely when the connection still works; never raises."""
        with contextlib.suppress(Exception):
            self.client.logout()
        with contextlib.suppress(Exception):
            self.client.shutdown()

    @contextlib.contextmanager
    def _errors(self, command: str) -> Iterator[None]:
        try:
            yield
        except (IMAPClient.AbortError, OSError, ssl.SSLError) as exc:  # OSError covers timeouts and resets
            raise ConnectionLostError(
                f"{self.where}: the connection broke during {command}: {printable(str(exc)) or type(exc).__name__}"
            ) from None
        except IMAPClient.Error as exc:
            raise MailCommandError(f"{self.where} refused {command}: {printable(str(exc))}") from None


def _announces_mail(lines: Sequence[bytes]) -> bool:
    return any(re.fullmatch(rb"\* \d+ (EXISTS|RECENT)", line.strip(), re.IGNORECASE) for line in lines)


def open_session(mailbox: MailboxSettings, secret: str, *, timeout: float = 30) -> MailSession:
    """connect(), as a MailSession. Raises MailConnectError."""
    return MailSession(connect(mailbox, secret, timeout=timeout), mailbox)
