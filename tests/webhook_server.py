"""A real HTTP server on 127.0.0.1 that plays a group robot for tests: it records every request, answers from a
script (a status and a JSON body per request, then `{"errcode": 0}`), and can hang until released."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from daemon_run import wait_until

OK: tuple[int, dict[str, Any]] = (200, {"errcode": 0, "errmsg": "ok"})


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Robot:
    server: ThreadingHTTPServer
    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # taken one per request
    received: list[Received] = field(default_factory=list)
    answered: int = 0
    hang: threading.Event = field(default_factory=threading.Event)  # set: every request waits for `release`
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str = "/cgi-bin/webhook/send?key=SECRETKEY-0123") -> str:
        return self.base + path

    def wait_for(self, count: int, *, timeout: float = 30.0) -> list[Received]:
        wait_until(lambda: len(self.received) >= count, what=f"{count} requests at the robot", timeout=timeout)
        return list(self.received)


def _handler(robot: Robot) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the name http.server calls
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            parts = urlsplit(self.path)
            with robot.lock:
                robot.received.append(Received(parts.path, parse_qs(parts.query), dict(self.headers), body))
                status, answer = robot.answers.pop(0) if robot.answers else OK
            if robot.hang.is_set():
                robot.release.wait(60)
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up waiting (a timeout test)
                return
            with robot.lock:
                robot.answered += 1

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def running_robot(*, hang: bool = False, answers: list[tuple[int, dict[str, Any]]] | None = None) -> Iterator[Robot]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    robot = Robot(server, answers=list(answers or []))
    if hang:
        robot.hang.set()
    server.RequestHandlerClass = _handler(robot)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield robot
    finally:
        robot.release.set()  # a hanging request ends, so its thread and socket close
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
