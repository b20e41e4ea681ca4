"""The webhook bodies, signatures and answers, as pure functions: the shapes WeCom, DingTalk and Feishu robots
take, their size limits, the signatures they check, exact totals, and untrusted text that cannot turn into links
or mentions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest

from ingest.notify.events import Event, Kind, event_from_result, with_invoice
from ingest.notify.formats import (
    DINGTALK_TEXT_BYTES,
    DINGTALK_TITLE_CHARS,
    FEISHU_BODY_BYTES,
    LIST_LIMIT,
    WECOM_MARKDOWN_BYTES,
    Message,
    dingtalk_sign,
    feishu_sign,
    judge,
    message_for,
    render,
)
from ingest.notify.http_post import host_of, with_query
from ingest.notify.summary import headline, yuan
from ingest.pipeline import Result
from storage.archive import Filed, Outcome
from storage.digest_query import InvoiceFacts

NOW = 1_753_779_600.25  # 2025-07-29 09:00:00.25 UTC


def invoice_event(i: int, *, seller: str = "江苏佑诚瑞楠科技有限公司", total_fen: int = 11700) -> Event:
    return Event(
        Kind.INVOICE,
        "folder:/home/me/inbox",
        f"发票{i}.pdf",
        "archived",
        path=f"2025/2025-07/2025-07-29_{seller}_117.00_{25322000000350147000 + i}.pdf",
        number=str(25322000000350147000 + i),
        issue_date=date(2025, 7, 29),
        seller=seller,
        total_fen=total_fen,
        status="ok",
    )


def test_outcomes_map_to_events() -> None:
    kinds = {
        outcome: (event.kind if (event := event_from_result("s", Result("a.pdf", Filed(outcome, "p", "r")))) else None)
        for outcome in Outcome
    }
    assert kinds == {
        Outcome.ARCHIVED: Kind.INVOICE,
        Outcome.REVIEW: Kind.REVIEW,
        Outcome.CONFLICT: Kind.REVIEW,
        Outcome.UNRECOGNIZED: Kind.REVIEW,
        Outcome.LINK_ONLY: Kind.REVIEW,
        Outcome.FAILED: Kind.FAILURE,
        Outcome.DUPLICATE: None,
        Outcome.COMPANION: None,
        Outcome.SKIPPED: None,
        Outcome.SEEN: None,  # a mail's file that came in before: told the first time, not again
    }


def test_an_event_takes_the_invoice_it_was_filed_as() -> None:
    event = event_from_result("imap:work", Result("INBOX/7/2", Filed(Outcome.ARCHIVED, "2025/a.pdf")))
    assert event is not None
    facts = InvoiceFacts("044002300111 12345678", date(2024, 3, 1), "深圳某某餐饮有限公司", 9900, "ok", "2025/a.pdf")
    described = with_invoice(event, facts)
    assert (described.number, described.issue_date, described.seller, described.total_fen) == (
        "044002300111 12345678",
        date(2024, 3, 1),
        "深圳某某餐饮有限公司",
        9900,
    )
    assert described.path == "2025/a.pdf" and described.source == "imap:work"


def test_totals_are_exact() -> None:
    events = [invoice_event(1, total_fen=1), invoice_event(2, total_fen=2), invoice_event(3, total_fen=99_999_999)]
    assert yuan(1 + 2 + 99_999_999) == "¥1,000,000.02"
    assert headline(events) == "fapiao: 3 new invoices (total ¥1,000,000.02)"
    assert yuan(-1050) == "¥-10.50"
    mixed = [*events, Event(Kind.REVIEW, "s", "b.pdf", "review"), Event(Kind.FAILURE, "s", "c.pdf", "failed")]
    assert headline(mixed) == "fapiao: 3 new invoices (total ¥1,000,000.02), 1 to review, 1 failed"


def test_wecom_markdown_lists_the_first_and_counts_the_rest() -> None:
    events = tuple(invoice_event(i) for i in range(12))
    body = json.loads(render("wecom", message_for(events)).body)
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert content.startswith("**fapiao: 12 new invoices (total ¥1,404.00)**\n")
    for i in range(LIST_LIMIT):
        assert f"No. {25322000000350147000 + i}" in content
    assert f"No. {25322000000350147000 + LIST_LIMIT}" not in content
    assert content.endswith(f"… and {12 - LIST_LIMIT} more (fapiao list, fapiao review)")


def test_every_robot_body_stays_under_its_limit() -> None:
    long_seller = "某" * 200  # a long name, cut per line
    events = tuple(invoice_event(i, seller=long_seller) for i in range(600))
    message = message_for(events)
    wecom = json.loads(render("wecom", message).body)["markdown"]["content"]
    assert len(wecom.encode()) <= WECOM_MARKDOWN_BYTES
    assert "… and" in wecom and "600 new invoices" in wecom
    ding = json.loads(render("dingtalk", message).body)["markdown"]
    assert len(ding["text"].encode()) <= DINGTALK_TEXT_BYTES
    assert len(ding["title"]) <= DINGTALK_TITLE_CHARS
    feishu = render("feishu", message, secret="s", now=NOW).body
    assert len(feishu) <= FEISHU_BODY_BYTES
    assert "600 new invoices" in json.loads(feishu)["content"]["text"]


def test_untrusted_text_cannot_become_a_link_a_mention_or_a_new_line() -> None:
    evil = Event(
        Kind.FAILURE,
        "folder:/in",
        "[点我](http://evil.example)<@all>\n**fake**.pdf",
        "failed",
        reason='<at user_id="all">所有人</at>',
    )
    for kind in ("wecom", "dingtalk"):
        body = json.loads(render(kind, message_for((evil,))).body)
        text = body["markdown"]["content" if kind == "wecom" else "text"]
        assert "](" not in text and "<" not in text and "**fake" not in text
        assert text.count("\n") == 1  # the title, then one line
    text = json.loads(render("feishu", message_for((evil,))).body)["content"]["text"]
    assert "<at" not in text and "<@" not in text and text.count("\n") == 1


def test_dingtalk_signature_is_what_the_robot_checks() -> None:
    secret = "SECa1b2c3d4e5f6"
    outgoing = render("dingtalk", message_for((invoice_event(1),)), secret=secret, now=NOW)
    url = with_query("https://oapi.dingtalk.com/robot/send?access_token=TOKEN", outgoing.query)
    query = parse_qs(urlsplit(url).query)
    assert query["access_token"] == ["TOKEN"]
    timestamp = query["timestamp"][0]
    assert timestamp == str(int(NOW * 1000))  # milliseconds
    # The robot's side, from DingTalk's description: HMAC-SHA256 keyed by the secret over "timestamp\nsecret".
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert query["sign"] == [expected] == [dingtalk_sign(int(timestamp), secret)]
    assert f"sign={quote_plus(expected)}" in urlsplit(url).query  # URL-encoded: base64 has + / =
    assert "sign=" not in render("dingtalk", message_for(()), secret=None).body.decode()


def test_feishu_signature_is_in_the_body() -> None:
    secret = "feishu-secret"
    body = json.loads(render("feishu", message_for((invoice_event(1),)), secret=secret, now=NOW).body)
    assert body["timestamp"] == str(int(NOW))  # seconds
    # Feishu's description: HMAC-SHA256 keyed by "timestamp\nsecret", over an empty message.
    key = f"{body['timestamp']}\n{secret}".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert body["sign"] == feishu_sign(int(NOW), secret)
    assert body["msg_type"] == "text" and "1 new invoice (total ¥117.00)" in body["content"]["text"]
    unsigned = json.loads(render("feishu", message_for(()), secret=None).body)
    assert "sign" not in unsigned and "timestamp" not in unsigned


def test_plain_json_has_the_structured_events() -> None:
    review = Event(Kind.REVIEW, "imap:work", "INBOX/9/2", "conflict", "_review/x.pdf", "amount differs")
    body = json.loads(render("json", message_for((invoice_event(5, total_fen=123456), review))).body)
    assert body["counts"] == {"invoice": 1, "review": 1, "failure": 0}
    assert body["invoice_total"] == "1234.56"
    first, second = body["events"]
    assert first == {
        "kind": "invoice",
        "outcome": "archived",
        "source": "folder:/home/me/inbox",
        "name": "发票5.pdf",
        "number": "25322000000350147005",
        "date": "2025-07-29",
        "seller": "江苏佑诚瑞楠科技有限公司",
        "total": "1234.56",
        "status": "ok",
        "path": "2025/2025-07/2025-07-29_江苏佑诚瑞楠科技有限公司_117.00_25322000000350147005.pdf",
        "reason": "",
    }
    assert Decimal(first["total"]) == Decimal("1234.56")
    assert second["kind"] == "review" and second["reason"] == "amount differs" and second["total"] is None


@pytest.mark.parametrize(
    ("kind", "status", "answer", "expected"),
    [
        ("wecom", 200, {"errcode": 0, "errmsg": "ok"}, None),
        ("wecom", 200, {"errcode": 45009, "errmsg": "api freq out of limit"}, False),
        ("wecom", 200, {"errcode": 93000, "errmsg": "invalid webhook url"}, True),
        ("dingtalk", 200, {"errcode": 130101, "errmsg": "send too fast"}, False),
        ("dingtalk", 200, {"errcode": 310000, "errmsg": "sign not match"}, True),
        ("dingtalk", 200, {"errcode": 300001, "errmsg": "token is not exist"}, True),
        ("feishu", 200, {"code": 0, "msg": "success"}, None),
        ("feishu", 200, {"code": 11232, "msg": "frequency limited"}, False),
        ("feishu", 200, {"code": 19021, "msg": "sign match fail"}, True),
        ("json", 200, {"errcode": 45009}, None),  # our own format: HTTP says it all
        ("wecom", 500, {}, False),
        ("wecom", 429, {}, False),
        ("feishu", 404, {}, True),
    ],
)
def test_answers_are_judged(kind: str, status: int, answer: dict[str, object], expected: bool | None) -> None:
    refusal = judge(kind, status, json.dumps(answer).encode())
    if expected is None:
        assert refusal is None
    else:
        assert refusal is not None and refusal.permanent is expected
        assert str(answer.get("errcode", answer.get("code", status))) in refusal.reason


def test_an_answer_that_is_not_a_robots_is_taken_as_delivered() -> None:
    assert judge("wecom", 200, b"OK") is None
    assert judge("wecom", 200, b"[]") is None


def test_only_the_host_of_a_url_is_shown() -> None:
    assert host_of("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx") == "qyapi.weixin.qq.com"
    assert host_of("https://open.feishu.cn/open-apis/bot/v2/hook/abcdef") == "open.feishu.cn"
    assert host_of("http://127.0.0.1:8080/hook") == "127.0.0.1:8080"
    assert host_of("not a url") == "?"


def test_a_test_message_has_only_its_title() -> None:
    content = json.loads(render("wecom", Message("fapiao: test")).body)["markdown"]["content"]
    assert content == "**fapiao: test**"
