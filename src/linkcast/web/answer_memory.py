"""How many bytes of large HTTP answers one process holds at once, whatever the number of clients asking.

An answer leaves through the socket's buffer, which keeps it until the client has read it. One request record may hold
8 MiB of links (``--max-result-bytes``) and a page of a listing 32 MiB, and a client that asks and never reads makes
the server keep that answer for as long as its connection stays open: 100 such GETs of one result held 820 MiB, and
one address may open hundreds of connections. So an answer over ``LARGE_ANSWER_BYTES`` is sent only with its share of
one budget per process (``--answer-memory-bytes``), in pieces that each wait for the socket to take the one before,
and gives the share back once it is sent, or once Quart's response timeout (60 s) has cut a client that does not read;
the socket then holds a piece at most. An answer that finds the budget taken is a ``503 busy`` (retry shortly): the
client asks again, rather than the server holding the answer while it waits.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator

from quart import Quart, Response
from quart.wrappers.response import DataBody, IterableBody

from linkcast.memory_budget import MemoryBudget, Share
from linkcast.web.errors import error_response

# Answers up to this size are sent as they are: every ordinary answer, and small enough not to matter times hundreds.
LARGE_ANSWER_BYTES = 1024 * 1024
# The size of each piece of a large answer: what a client that stops reading leaves in the socket's buffer.
PIECE_BYTES = 64 * 1024
RETRY_AFTER_SECONDS = 1


class _ShareBody(IterableBody):
    """A large answer's body, sent in pieces within its share, which goes back when the sending ends however it ends
    (sent, cut by the response timeout, the connection lost) or, if it never started, when the body is dropped."""

    def __init__(self, data: bytes, share: Share) -> None:
        super().__init__(_pieces(data))
        self.share = share
        weakref.finalize(self, share.give_back)

    async def __aexit__(self, *exc: object) -> None:
        try:
            await super().__aexit__(*exc)  # type: ignore[arg-type]
        finally:
            self.share.give_back()


async def _pieces(data: bytes) -> AsyncIterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), PIECE_BYTES):
        yield bytes(view[start : start + PIECE_BYTES])  # the server awaits each piece's drain before the next


def bound_answer_memory(app: Quart, total_bytes: int) -> None:
    """Send every answer over ``LARGE_ANSWER_BYTES`` within ``total_bytes`` of this process's memory."""
    budget = MemoryBudget(total_bytes)

    @app.after_request
    async def within_budget(response: Response) -> Response:
        body = response.response
        if not isinstance(body, DataBody) or body.end - body.begin <= LARGE_ANSWER_BYTES:
            return response
        if (body.begin, body.end) != (0, len(body.data)):  # a range of a file: rare, and no API answer
            return response
        share = budget.try_take(len(body.data))
        if share is None:
            busy = error_response(
                503, "busy", "this server is sending as many large answers as its memory allows; retry shortly"
            )
            busy.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return busy
        response.response = _ShareBody(body.data, share)
        return response
