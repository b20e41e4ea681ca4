"""One attempt to deliver a message to one webhook: read its URL and secret, build the request, post, judge."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ingest.mail_secret import SecretError, read_secret
from ingest.notify.formats import Message, judge, render
from ingest.notify.http_post import PostError, Reply, host_of, post_json, with_query
from ingest.notify_config import WebhookSettings

TIMEOUT_SECONDS = 10.0  # for each request: a robot answers in well under a second

Post = Callable[..., Reply]


@dataclass(frozen=True)
class Delivery:
    ok: bool
    error: str = ""
    permanent: bool = False  # trying again cannot help (a wrong key, a refused signature)


class WebhookTarget:
    """A configured webhook, its URL and secret read at the first attempt (they are secrets: never shown)."""

    def __init__(
        self,
        settings: WebhookSettings,
        *,
        env: Mapping[str, str] = os.environ,
        post: Post = post_json,
        timeout: float = TIMEOUT_SECONDS,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.env = env
        self.post = post
        self.timeout = timeout
        self.wall_clock = wall_clock
        self._url = settings.url or None
        self._secret: str | None = None

    @property
    def label(self) -> str:
        """'wecom webhook #1 (qyapi.weixin.qq.com)': the host once the URL is known, never more of it."""
        return f"{self.settings.label} ({host_of(self._url)})" if self._url else self.settings.label

    def send(self, message: Message) -> Delivery:
        what = "URL"
        try:
            if self._url is None:
                assert self.settings.url_source is not None
                self._url = read_secret(self.settings.url_source, env=self.env)
            if self.settings.secret is not None and self._secret is None:
                what = "signing secret"
                self._secret = read_secret(self.settings.secret, env=self.env)
        except SecretError as exc:  # its message names the source, never the value
            return Delivery(False, f"cannot read the {what}: {exc}")
        url = self._url
        outgoing = render(self.settings.format, message, secret=self._secret, now=self.wall_clock())
        try:
            reply = self.post(with_query(url, outgoing.query), outgoing.body, timeout=self.timeout)
        except PostError as exc:
            return Delivery(False, str(exc))
        refusal = judge(self.settings.format, reply.status, reply.body)
        if refusal is None:
            return Delivery(True)
        return Delivery(False, f"refused the message: {refusal.reason}", refusal.permanent)
