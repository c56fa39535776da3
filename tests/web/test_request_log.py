"""The request log's lines and the filter that keeps query strings and headers out of uvicorn's (the real server's
log: tests/hostile/test_log_secrets.py)."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from linkcast.web.request_log import QueryRedaction, RequestLog, loggable_path, redact


def record(name: str, msg: str, *args: Any) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)


def test_uvicorn_handshake_lines_are_dropped_for_the_request_log_has_them_without_query() -> None:
    for msg in ('%s - "WebSocket %s" [accepted]', '%s - "WebSocket %s" 403', '%s - "WebSocket %s" %d'):
        line = record("uvicorn.error", msg, "127.0.0.1:5000", "/scraped_urls?token=s3cr3t", 401)
        assert not QueryRedaction().filter(line)


def test_any_other_path_in_a_uvicorn_line_loses_its_query() -> None:
    line = record("uvicorn.error", 'something about "%s" and %s', "/scraped_urls?token=s3cr3t&since=4", 3)
    assert QueryRedaction().filter(line)
    assert line.getMessage() == 'something about "/scraped_urls" and 3'
    preformatted = record("uvicorn.error", "GET /urls/1?token=s3cr3t HTTP/1.1 went wrong")
    assert QueryRedaction().filter(preformatted)
    assert "s3cr3t" not in preformatted.getMessage()


def test_uvicorn_trace_dumps_with_headers_are_dropped() -> None:
    dump = record("uvicorn.asgi", "ASGI [%d] Started scope=%s", 1, {"headers": [(b"authorization", b"Bearer x")]})
    assert not QueryRedaction().filter(dump)


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("/scraped_urls?token=abc", "/scraped_urls"),
        ('"WebSocket /a?b=c" [accepted]', '"WebSocket /a" [accepted]'),
        ("is this a question?", "is this a question?"),
        ("a?b/c?d=e f/g?h", "a?b/c f/g"),
        ("http://h/p?q=1 /x", "http://h/p /x"),
    ],
)
def test_redact_cuts_query_strings_from_paths(text: str, redacted: str) -> None:
    assert redact(text) == redacted


def test_redacting_a_line_of_many_slashes_takes_one_pass() -> None:
    line = "/" * 100_000 + " /a?token=secret"
    started = time.perf_counter()
    assert redact(line) == "/" * 100_000 + " /a"
    assert time.perf_counter() - started < 1.0  # a pattern tried from every "/" took 1.2 s for 16 KB, 45 s for this


def test_a_logged_path_is_one_printable_token_of_bounded_length() -> None:
    assert loggable_path({"raw_path": b"/urls/a%20b"}) == "/urls/a%20b"
    assert loggable_path({"raw_path": b'/x"y z\n\x7f\xff'}) == "/x%22y%20z%0A%7F%FF"
    assert len(loggable_path({"raw_path": b"/" + b"a" * 70_000})) < 400


async def test_each_request_is_one_line_with_method_path_status_and_time(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "linkcast.access")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": "{}"})
            return
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})

    async def fail(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    async def send(message: Any) -> None:
        pass

    http = {"type": "http", "method": "PUT", "raw_path": b"/urls/1", "query_string": b"token=s3cr3t"}
    http["client"] = ("192.0.2.1", 5000)
    ws = {"type": "websocket", "raw_path": b"/scraped_urls", "query_string": b"token=s3cr3t", "client": None}
    await RequestLog(app)(http, None, send)  # type: ignore[arg-type]
    await RequestLog(app)(ws, None, send)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        await RequestLog(fail)(http, None, send)  # type: ignore[arg-type]
    lines = [r.getMessage() for r in caplog.records]
    assert [line.rsplit(" ", 2)[0] for line in lines] == [
        '192.0.2.1 "PUT /urls/1" 201',
        '- "WebSocket /scraped_urls" 101',
        '192.0.2.1 "PUT /urls/1" 500',
    ]
    assert all(line.endswith(" ms") for line in lines)
