"""Pure: the request body each kind of webhook takes, its signature, and what its answer means.

- WeCom (企业微信) group robot: `{"msgtype": "markdown", "markdown": {"content": …}}`, content at most 4096 bytes.
- DingTalk (钉钉) custom robot: `{"msgtype": "markdown", "markdown": {"title": …, "text": …}}`; when it signs (加签),
  `timestamp` (ms) and `sign` go into the query: base64 of HMAC-SHA256 keyed by the secret over
  "timestamp\\nsecret", URL-encoded.
- Feishu (飞书) custom robot: `{"msg_type": "text", "content": {"text": …}}` (the body at most 20 KB); when it signs
  (签名校验), `timestamp` (s) and `sign` go into the body: base64 of HMAC-SHA256 keyed by "timestamp\\nsecret" over
  an empty message.
- json: our own shape, every event with its fields, for a script or a relay.

The robots answer HTTP 200 with an error code in the body when they refuse (WeCom and DingTalk `errcode`, Feishu
`code`): that is a failed delivery. It is tried again, except for codes that no retry can fix (a wrong key, a
security setting that does not match), which `judge` calls permanent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ingest.logs import printable
from ingest.notify.events import Event, Kind
from ingest.notify.summary import event_line, headline, more_line
from storage.index_csv import fen_to_yuan

LIST_LIMIT = 10  # events listed by name in one robot message; the rest are counted
WECOM_MARKDOWN_BYTES = 4096
DINGTALK_TEXT_BYTES = 5000  # DingTalk counts characters; a UTF-8 byte count is never smaller
DINGTALK_TITLE_CHARS = 64
FEISHU_BODY_BYTES = 20_000

# Refusals no retry can fix, by format: the text says what to change.
PERMANENT_CODES: dict[str, dict[int, str]] = {
    "wecom": {
        93000: "the webhook key is wrong or the robot was removed from the group",
        40058: "the message is too long for the robot",
    },
    "dingtalk": {
        300001: "the access_token in the webhook URL is wrong or the robot was removed",
        310000: "the robot's security settings do not match: set the signing secret ('SEC…') as secret_env, "
        "or add the keyword 'fapiao', or allow this machine's IP address",
    },
    "feishu": {
        19021: "the signature does not match: check the signing secret and this machine's clock",
        19022: "this machine's IP address is not on the robot's allowlist",
        19024: "the robot expects a keyword: add 'fapiao' as one",
    },
}


@dataclass(frozen=True)
class Message:
    title: str
    events: tuple[Event, ...] = ()


def message_for(events: tuple[Event, ...]) -> Message:
    return Message(headline(events), events)


@dataclass(frozen=True)
class Outgoing:
    body: bytes
    query: tuple[tuple[str, str], ...] = ()  # added to the URL's query (DingTalk's signature)


@dataclass(frozen=True)
class Refusal:
    reason: str
    permanent: bool


def render(kind: str, message: Message, *, secret: str | None = None, now: float = 0.0) -> Outgoing:
    """The request for a webhook of `kind`; `now` (Unix seconds) dates the signature."""
    if kind == "wecom":
        return Outgoing(_dumps(wecom_body(message)))
    if kind == "dingtalk":
        query: tuple[tuple[str, str], ...] = ()
        if secret:
            stamp = int(now * 1000)
            query = (("timestamp", str(stamp)), ("sign", dingtalk_sign(stamp, secret)))
        return Outgoing(_dumps(dingtalk_body(message)), query)
    if kind == "feishu":
        body = feishu_body(message)
        if secret:
            stamp = int(now)
            body = {"timestamp": str(stamp), "sign": feishu_sign(stamp, secret), **body}
        return Outgoing(_dumps(body))
    if kind == "json":
        return Outgoing(_dumps(json_body(message)))
    raise ValueError(f"unknown webhook format {kind!r}")


def wecom_body(message: Message) -> dict[str, Any]:
    content = _fit(message, markdown=True, fits=lambda text: len(text.encode()) <= WECOM_MARKDOWN_BYTES)
    return {"msgtype": "markdown", "markdown": {"content": content}}


def dingtalk_body(message: Message) -> dict[str, Any]:
    text = _fit(message, markdown=True, fits=lambda text: len(text.encode()) <= DINGTALK_TEXT_BYTES)
    title = message.title if len(message.title) <= DINGTALK_TITLE_CHARS else message.title[:63] + "…"
    return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}


def feishu_body(message: Message) -> dict[str, Any]:
    def fits(text: str) -> bool:
        # Room is left for the signature fields, which are added after.
        return len(_dumps({"msg_type": "text", "content": {"text": text}})) <= FEISHU_BODY_BYTES - 200

    return {"msg_type": "text", "content": {"text": _fit(message, markdown=False, fits=fits)}}


def json_body(message: Message) -> dict[str, Any]:
    counts = {kind.value: sum(1 for e in message.events if e.kind is kind) for kind in Kind}
    total = sum(e.total_fen or 0 for e in message.events if e.kind is Kind.INVOICE)
    return {
        "source": "fapiao-inbox",
        "title": message.title,
        "counts": counts,
        "invoice_total": fen_to_yuan(total),
        "events": [_event_json(event) for event in message.events],
    }


def dingtalk_sign(timestamp_ms: int, secret: str) -> str:
    """DingTalk's `sign` before URL encoding (the query encoder does that)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def feishu_sign(timestamp_s: int, secret: str) -> str:
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def judge(kind: str, status: int, body: bytes) -> Refusal | None:
    """None when the webhook took the message; else why not, and whether trying again can help."""
    if status in (408, 429) or status >= 500:
        return Refusal(f"HTTP {status}", permanent=False)
    if not 200 <= status < 300:
        return Refusal(f"HTTP {status} (check the URL)", permanent=True)
    if kind == "json":
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None  # not a robot's answer (a relay's); HTTP said yes
    if not isinstance(answer, dict):
        return None
    code = answer.get("code" if kind == "feishu" else "errcode", 0)
    if not isinstance(code, int) or code == 0:
        return None
    said = printable(str(answer.get("msg" if kind == "feishu" else "errmsg", "")))[:200]
    field = "code" if kind == "feishu" else "errcode"
    hint = PERMANENT_CODES.get(kind, {}).get(code)
    if hint is not None:
        return Refusal(f"{field} {code}: {hint} ({said})", permanent=True)
    return Refusal(f"{field} {code} ({said})", permanent=False)


def _fit(message: Message, *, markdown: bool, fits: Callable[[str], bool]) -> str:
    """The title and as many event lines as fit (at most LIST_LIMIT); the others are counted in a last line."""
    lines = [event_line(event, markdown=markdown) for event in message.events[:LIST_LIMIT]]
    title = f"**{message.title}**" if markdown else message.title
    for shown in range(len(lines), -1, -1):
        rest = len(message.events) - shown
        text = "\n".join([title, *lines[:shown], *([more_line(rest)] if rest else [])])
        if fits(text):
            return text
    return title  # never reached with our titles: a headline is far shorter than any limit


def _event_json(event: Event) -> dict[str, Any]:
    return {
        "kind": event.kind.value,
        "outcome": event.outcome,
        "source": event.source,
        "name": event.name,
        "number": event.number or None,
        "date": event.issue_date.isoformat() if event.issue_date else None,
        "seller": event.seller or None,
        "total": fen_to_yuan(event.total_fen) or None,
        "status": event.status or None,
        "path": event.path,
        "reason": event.reason,
    }


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()
