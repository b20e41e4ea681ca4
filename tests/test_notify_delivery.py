"""Webhook delivery against a real HTTP server on 127.0.0.1: a failed first attempt (HTTP 500, or HTTP 200 with a
robot's error code) is retried and received; a server that never answers is timed out, retried, given up and
logged without the robot's key; a full queue never blocks the caller; events that come together go out together."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_run import fapiao
from daemon_run import wait_until
from webhook_server import Robot, running_robot

from ingest.mail_config import Secret
from ingest.notify.events import Event, Kind
from ingest.notify.notifier import Notifier
from ingest.notify.sender import WebhookSender
from ingest.notify.webhook import WebhookTarget
from ingest.notify_config import NotifySettings, WebhookSettings
from ingest.pipeline import Result
from storage.archive import Filed, Outcome

FAST = (0.05, 0.05, 0.05, 0.05)  # retry delays for tests: five attempts, no waiting about
KEY = "SECRETKEY-0123"


def event(i: int, kind: Kind = Kind.INVOICE) -> Event:
    return Event(kind, "folder:/home/me/inbox", f"invoice-{i}.pdf", "archived", f"2025/invoice-{i}.pdf")


@pytest.fixture
def robot() -> Iterator[Robot]:
    with running_robot() as server:
        yield server


@pytest.fixture
def hanging_robot() -> Iterator[Robot]:
    with running_robot(hang=True) as server:
        yield server


def notifier_for(
    robot: Robot, kind: str = "wecom", *, timeout: float = 5.0, env: dict[str, str] | None = None
) -> Notifier:
    webhook = (
        WebhookSettings(1, kind, url=robot.url())
        if env is None
        else WebhookSettings(1, kind, url_source=Secret("env", "ROBOT_URL"), secret=Secret("env", "ROBOT_SECRET"))
    )
    settings = NotifySettings(batch_seconds=0, webhooks=(webhook,))
    return Notifier(settings, env=env or {}, retry_delays=FAST, timeout=timeout)


@pytest.fixture
def stopping() -> Iterator[list[Notifier]]:
    """Notifiers to stop at the end of the test, so no sender thread outlives it."""
    started: list[Notifier] = []
    yield started
    for notifier in started:
        notifier.stop(0.1)


def test_a_failed_first_attempt_is_retried_and_received(robot: Robot, stopping: list[Notifier]) -> None:
    robot.answers.append((500, {"error": "internal"}))
    notifier = notifier_for(robot)
    stopping.append(notifier)
    notifier.start()
    notifier.result("folder:/home/me/inbox", Result("发票.pdf", Filed(Outcome.ARCHIVED, "2025/发票.pdf")))
    first, second = robot.wait_for(2)
    assert first.body == second.body  # the same message again
    assert second.json()["msgtype"] == "markdown"
    assert "1 new invoice" in second.json()["markdown"]["content"]
    assert second.query["key"] == [KEY]
    wait_until(lambda: notifier.senders[0].delivered == 1, what="the delivery to count")
    assert notifier.problem().dropped == 0 and notifier.problem().error == ""


def test_a_robots_error_code_is_a_failed_delivery_and_retried(robot: Robot, stopping: list[Notifier]) -> None:
    robot.answers.append((200, {"errcode": 45009, "errmsg": "api freq out of limit"}))
    notifier = notifier_for(robot)
    stopping.append(notifier)
    notifier.start()
    notifier.notify(event(1, Kind.REVIEW))
    first, second = robot.wait_for(2)
    assert first.body == second.body
    wait_until(lambda: notifier.senders[0].delivered == 1, what="the delivery to count")
    assert robot.answered == 2


def test_a_wrong_key_is_not_tried_again(
    robot: Robot, stopping: list[Notifier], caplog: pytest.LogCaptureFixture
) -> None:
    robot.answers.append((200, {"errcode": 93000, "errmsg": "invalid webhook url"}))
    notifier = notifier_for(robot)
    stopping.append(notifier)
    notifier.start()
    notifier.notify(event(1))
    wait_until(lambda: notifier.problem().error, what="the delivery to be given up")
    assert len(robot.received) == 1
    assert "errcode 93000: the webhook key is wrong" in notifier.problem().error
    assert "not tried again (retrying cannot fix this)" in caplog.text
    assert KEY not in caplog.text


def test_a_server_that_never_answers_is_timed_out_retried_and_given_up(
    hanging_robot: Robot, stopping: list[Notifier], caplog: pytest.LogCaptureFixture
) -> None:
    notifier = notifier_for(hanging_robot, timeout=0.3)
    stopping.append(notifier)
    notifier.start()
    notifier.notify(event(1, Kind.FAILURE))
    wait_until(lambda: notifier.problem().error, what="the delivery to be given up")
    assert len(hanging_robot.received) == 5  # every attempt reached the server
    assert hanging_robot.answered == 0
    problem = notifier.problem()
    host = hanging_robot.base.removeprefix("http://")
    assert problem.error == f"wecom webhook #1 ({host}): no answer within 0.3 s"
    assert problem.dropped == 1
    assert f"wecom webhook #1 ({host}): attempt 1 of 5 failed: no answer within 0.3 s" in caplog.text
    assert "gave up after 5 attempts" in caplog.text
    assert KEY not in caplog.text and "/cgi-bin" not in caplog.text


def test_a_full_queue_never_blocks_and_keeps_the_newest(hanging_robot: Robot) -> None:
    settings = WebhookSettings(1, "json", url=hanging_robot.url())
    sender = WebhookSender(WebhookTarget(settings, timeout=30), batch_seconds=0, retry_delays=FAST, max_waiting=10)
    sender.start()
    try:
        sender.put(event(0))
        hanging_robot.wait_for(1)  # the first message is in flight, and hangs
        for i in range(1, 1001):
            sender.put(event(i))  # returns although the webhook does not answer
        assert hanging_robot.answered == 0
        assert sender.dropped == 990
        hanging_robot.release.set()
        first, second = hanging_robot.wait_for(2)
        assert [e["name"] for e in first.json()["events"]] == ["invoice-0.pdf"]
        assert [e["name"] for e in second.json()["events"]] == [f"invoice-{i}.pdf" for i in range(991, 1001)]
    finally:
        sender.stop(1.0)


def test_events_that_come_together_go_out_as_one_message(robot: Robot) -> None:
    settings = WebhookSettings(1, "json", url=robot.url("/fapiao"))
    sender = WebhookSender(WebhookTarget(settings), batch_seconds=0.2, retry_delays=FAST)
    for i in range(25):
        sender.put(event(i))
    sender.start()
    try:
        assert sender.wait_idle(30)
        (only,) = robot.received
        assert only.path == "/fapiao"
        assert only.json()["title"] == "fapiao: 25 new invoices (total ¥0.00)"
        assert len(only.json()["events"]) == 25
    finally:
        sender.stop(1.0)


def test_only_the_events_a_webhook_wants_reach_it(robot: Robot) -> None:
    failures_only = WebhookSettings(1, "json", url=robot.url("/ops"), events=("failure",))
    notifier = Notifier(NotifySettings(batch_seconds=0, webhooks=(failures_only,)), retry_delays=FAST)
    notifier.start()
    try:
        notifier.notify(event(1))
        notifier.notify(event(2, Kind.FAILURE))
        notifier.notify(event(2, Kind.FAILURE))  # the same failure again: told once
        assert notifier.senders[0].wait_idle(30)
    finally:
        notifier.stop(1.0)
    names = [e["name"] for request in robot.received for e in request.json()["events"]]
    assert names == ["invoice-2.pdf"]


def test_a_trouble_is_told_when_it_starts_and_again_only_after_it_cleared(robot: Robot) -> None:
    webhook = WebhookSettings(1, "json", url=robot.url("/ops"))
    notifier = Notifier(NotifySettings(batch_seconds=0, webhooks=(webhook,)), retry_delays=FAST)
    notifier.start()
    try:
        for current in (
            {"imap:work": "login refused", "backup": ""},
            {"imap:work": None, "backup": ""},  # reconnecting: unchanged
            {"imap:work": "login refused", "backup": "disk full"},
            {"imap:work": "", "backup": "disk full"},
            {"imap:work": "login refused", "backup": "disk full"},
        ):
            notifier.troubles(current)
            assert notifier.senders[0].wait_idle(30)
    finally:
        notifier.stop(1.0)
    told = [(e["source"], e["reason"]) for request in robot.received for e in request.json()["events"]]
    assert told == [("imap:work", "login refused"), ("backup", "disk full"), ("imap:work", "login refused")]


def test_signed_robots_get_signatures_they_accept(robot: Robot, stopping: list[Notifier]) -> None:
    env = {"ROBOT_URL": robot.url("/robot/send?access_token=TOKEN"), "ROBOT_SECRET": "SECabc123"}
    ding = notifier_for(robot, "dingtalk", env=env)
    stopping.append(ding)
    ding.start()
    ding.notify(event(1))
    (request,) = robot.wait_for(1)
    stamp, sign = request.query["timestamp"][0], request.query["sign"][0]
    key = env["ROBOT_SECRET"].encode()
    assert (
        sign
        == base64.b64encode(hmac.new(key, f"{stamp}\n{env['ROBOT_SECRET']}".encode(), hashlib.sha256).digest()).decode()
    )
    assert request.query["access_token"] == ["TOKEN"]

    feishu = notifier_for(robot, "feishu", env={**env, "ROBOT_URL": robot.url("/open-apis/bot/v2/hook/HOOKID")})
    stopping.append(feishu)
    feishu.start()
    feishu.notify(event(2))
    body = robot.wait_for(2)[1].json()
    signing_key = f"{body['timestamp']}\n{env['ROBOT_SECRET']}".encode()
    assert body["sign"] == base64.b64encode(hmac.new(signing_key, b"", hashlib.sha256).digest()).decode()
    assert body["msg_type"] == "text"


def test_an_unreadable_url_is_reported_by_its_source(robot: Robot, stopping: list[Notifier]) -> None:
    notifier = notifier_for(robot, env={"ROBOT_SECRET": "x"})
    stopping.append(notifier)
    notifier.start()
    notifier.notify(event(1))
    wait_until(lambda: notifier.problem().error, what="the delivery to be given up")
    assert notifier.problem().error == (
        "wecom webhook #1: cannot read the URL: environment variable ROBOT_URL is not set"
    )
    assert robot.received == []


def test_stop_waits_a_short_grace_then_drops(hanging_robot: Robot, caplog: pytest.LogCaptureFixture) -> None:
    notifier = notifier_for(hanging_robot, timeout=0.5)
    notifier.start()
    notifier.notify(event(1))
    hanging_robot.wait_for(1)
    notifier.stop(0.2)
    assert not any(t.name.startswith("notify ") for t in threading.enumerate())
    assert notifier.problem().dropped == 1
    assert "stopping; 1 events not delivered" in caplog.text


def write_config(tmp_path: Path, webhook: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[archive]\nroot = "archive"\n\n{webhook}', encoding="utf-8")
    return config


def test_notify_test_delivers_to_each_webhook(tmp_path: Path, robot: Robot) -> None:
    url_file = tmp_path / "wecom-url"
    url_file.write_text(robot.url() + "\n", encoding="utf-8")
    url_file.chmod(0o600)
    config = write_config(
        tmp_path,
        f'[[notify.webhook]]\nformat = "wecom"\nurl_file = "wecom-url"\n\n'
        f'[[notify.webhook]]\nformat = "json"\nurl = "{robot.url("/fapiao")}"\n',
    )
    result = fapiao("notify", "test", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    host = robot.base.removeprefix("http://")
    assert f"wecom webhook #1 ({host}): delivered" in result.stdout
    assert f"json webhook #2 ({host}): delivered" in result.stdout
    wecom, plain = robot.received
    assert wecom.json()["markdown"]["content"].startswith("**fapiao: test message")
    assert plain.json()["events"] == []
    assert KEY not in result.stdout + result.stderr


def test_notify_test_says_why_a_webhook_failed(tmp_path: Path, robot: Robot) -> None:
    robot.answers.append((200, {"errcode": 93000, "errmsg": "invalid webhook url"}))
    config = write_config(tmp_path, f'[[notify.webhook]]\nformat = "wecom"\nurl = "{robot.url()}"\n')
    result = fapiao("notify", "test", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert "refused the message: errcode 93000: the webhook key is wrong" in result.stderr
    assert KEY not in result.stdout + result.stderr


def test_notify_test_without_webhooks_is_a_usage_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    result = fapiao("notify", "test", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "no [[notify.webhook]] in" in result.stderr
    result = fapiao("notify", "test", "--digest", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "no [notify.digest] in" in result.stderr


def test_a_silent_server_is_reported_by_notify_test(tmp_path: Path, hanging_robot: Robot) -> None:
    config = write_config(tmp_path, f'[[notify.webhook]]\nformat = "feishu"\nurl = "{hanging_robot.url()}"\n')
    result = fapiao("notify", "test", "--timeout", "0.5", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert "no answer within 0.5 s (the daemon would try again)" in result.stderr
