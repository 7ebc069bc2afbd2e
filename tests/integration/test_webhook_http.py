"""The dispatcher's lean HTTP/1.1 client against a raw server on 127.0.0.1 that answers with
exactly the bytes each case gives: lengths, chunks, answers ended by the connection, interim
1xx heads, keep-alive and its loss, big bodies, garbage and silence."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from infra.webhooks.http import KEEP_BODY_BYTES, HttpError, HttpPool, Target
from infra.webhooks.transport import LeanHttpTransport

Answerer = Callable[[int], list[bytes]]  # request number -> the pieces to send (b"": close)


class RawServer:
    def __init__(self, answer: Answerer) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                self.requests.append(head + await reader.readexactly(length))
                for piece in self.answer(len(self.requests) - 1):
                    if piece == b"":
                        writer.close()
                        return
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.005)  # arrive in separate reads
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


async def exchange(answer: Answerer, requests: int = 1) -> tuple[list[object], RawServer]:
    raw = RawServer(answer)
    server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = HttpPool(2)
    target = Target.of(f"http://127.0.0.1:{port}/hooks?x=1")
    results: list[object] = []
    for _ in range(requests):
        try:
            async with asyncio.timeout(2):
                results.append(await pool.post(target, b"X-Test: 1\r\n", b'{"a":1}'))
        except (HttpError, TimeoutError) as exc:
            results.append(exc)
    pool.close()
    server.close()
    return results, raw


def run(answer: Answerer, requests: int = 1) -> tuple[list[object], RawServer]:
    return asyncio.run(exchange(answer, requests))


def test_a_request_is_a_post_with_host_length_and_body() -> None:
    (response,), raw = run(lambda i: [b"HTTP/1.1 204 No Content\r\n\r\n"])
    assert getattr(response, "status", None) == 204
    head, _, body = raw.requests[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /hooks?x=1 HTTP/1.1"
    assert b"X-Test: 1" in lines and b"Content-Length: 7" in lines
    assert any(line.startswith(b"Host: 127.0.0.1:") for line in lines)
    assert body == b'{"a":1}'


@pytest.mark.parametrize(
    ("pieces", "status", "body"),
    [
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", b"lo"], 200, b"hello"),
        (
            [b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nbad\r\n", b"2;x=y\r\n",
             b"!!\r\n0\r\n", b"Trailer: t\r\n\r\n"],
            500, b"bad!!",
        ),
        ([b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"],
         201, b""),
        ([b"HTTP/1.0 503 Busy\r\n\r\nlater", b""], 503, b"later"),  # ended by closing
        ([b"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"], 302, b""),
    ],
)  # fmt: skip
def test_answers_are_read_however_they_are_framed(
    pieces: list[bytes], status: int, body: bytes
) -> None:
    (response,), _ = run(lambda i: pieces)
    assert (getattr(response, "status", None), getattr(response, "body", None)) == (status, body)


def test_retry_after_is_read_and_big_bodies_are_cut_but_drained() -> None:
    big = b"x" * 100_000
    answers = [
        [b"HTTP/1.1 429 Slow\r\nRetry-After: 7\r\nContent-Length: %d\r\n\r\n" % len(big), big],
        [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
    ]
    (first, second), raw = run(lambda i: answers[i], requests=2)
    assert getattr(first, "retry_after", None) == "7"
    assert getattr(first, "body", b"") == big[:KEEP_BODY_BYTES]
    assert getattr(second, "body", None) == b"ok"
    assert raw.connections == 1  # drained, so the connection was reused


def test_keep_alive_reuses_one_connection_and_connection_close_does_not() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    _, raw = run(lambda i: [ok], requests=3)
    assert raw.connections == 1
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    _, raw = run(lambda i: [closing], requests=3)
    assert raw.connections == 3


def test_a_keep_alive_connection_the_server_dropped_is_replaced_once() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    # The server closes after its first answer, without saying so.
    (first, second), raw = run(lambda i: [ok, b""] if i == 0 else [ok], requests=2)
    assert getattr(first, "status", None) == getattr(second, "status", None) == 200
    assert raw.connections == 2


@pytest.mark.parametrize(
    "pieces",
    [
        [b"garbage\r\n\r\n"],
        [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", b""],  # cut short
        [b""],  # closed without a word
    ],
)
def test_broken_answers_are_errors(pieces: list[bytes]) -> None:
    (result,), _ = run(lambda i: pieces)
    assert isinstance(result, HttpError)


def test_silence_is_bounded_by_the_attempts_timeout() -> None:
    async def scenario() -> object:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        transport = LeanHttpTransport(2)
        answer = await transport.post(f"http://127.0.0.1:{port}/", b"{}", {}, 0.3)
        await transport.aclose()
        server.close()
        return answer

    answer = asyncio.run(scenario())
    assert getattr(answer, "status_code", 0) is None
    assert "no answer within 0.3 s" in str(getattr(answer, "error", ""))


def test_a_refused_connection_is_an_error_answer() -> None:
    async def scenario() -> object:
        transport = LeanHttpTransport(2)
        return await transport.post("http://127.0.0.1:9/", b"{}", {}, 2)

    answer = asyncio.run(scenario())
    assert getattr(answer, "status_code", 0) is None
    assert "cannot connect" in str(getattr(answer, "error", ""))
