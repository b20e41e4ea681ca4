"""POST a JSON body to a webhook: the one place that speaks HTTP (stdlib `urllib.request`).

A webhook's URL holds the robot's key (WeCom `key=`, DingTalk `access_token=`, Feishu's hook path), so nothing
here says anything of it: `PostError` messages say what went wrong, and `host_of` is all a log may show.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

MAX_REPLY_BYTES = 64 * 1024  # a robot's answer is a few dozen bytes; more is not read


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


class PostError(Exception):
    """The request did not get an answer (no connection, a timeout, TLS); the message holds nothing of the URL."""


def host_of(url: str) -> str:
    """What may be shown of a webhook's URL: its host (and port)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "?"


def with_query(url: str, query: tuple[tuple[str, str], ...]) -> str:
    """`url` with `query` appended to the query it has (URL-encoded)."""
    if not query:
        return url
    parts = urlsplit(url)
    extra = urlencode(query)
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def post_json(url: str, body: bytes, *, timeout: float) -> Reply:
    """The server's answer, whatever its status; PostError when there is none."""
    if urlsplit(url).scheme not in ("http", "https"):  # urllib would also open file: and ftp: addresses
        raise PostError("the webhook URL must start with http:// or https://")
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "fapiao-inbox"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, response.read(MAX_REPLY_BYTES))
    except urllib.error.HTTPError as exc:
        with exc:
            return Reply(exc.code, exc.read(MAX_REPLY_BYTES))
    except urllib.error.URLError as exc:
        raise PostError(_why(exc.reason)) from None
    except TimeoutError:
        raise PostError(f"no answer within {timeout:g} s") from None
    except (OSError, ValueError) as exc:  # a connection reset mid-answer, a malformed status line
        raise PostError(_why(exc)) from None


def _why(reason: object) -> str:
    """The cause in words, without the URL (urllib's own texts may hold it)."""
    if isinstance(reason, TimeoutError):
        return "no answer in time"
    if isinstance(reason, socket.gaierror):
        return "the host name cannot be resolved"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, ConnectionError):
        return "the connection was closed without an answer"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return type(reason).__name__  # e.g. http.client.InvalidURL, whose text quotes the URL
