"""The linkcast server a client command talks to: ``--server`` and ``--token`` (or ``LINKCAST_SERVER`` and
``LINKCAST_TOKEN``), the URLs of its API and stream, what its error answers say, and how long to wait before trying
it again."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

import orjson

from linkcast.cli.errors import ServerError, UsageError
from linkcast.core.errors import ConfigurationError, LinkcastError

DEFAULT_SERVER = "http://localhost:8080"
# What an HTTP header can carry: the token travels in one (Authorization: Bearer).
TOKEN_PATTERN = re.compile(r"[\x20-\x7e]*")
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)
UNAUTHORIZED = 401


def reconnect_delay(attempt: int) -> float:
    """Seconds to wait before try number ``attempt + 1`` after a failure: growing, then steady."""
    return RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]


@dataclass(frozen=True)
class Endpoint:
    """A server's base URL (``http(s)://host[:port][/prefix]``, no trailing slash) and the token it wants."""

    base: str
    token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def url(self, *segments: str) -> str:
        """The HTTP URL of a path, each segment percent-encoded (an id is one segment, whatever it holds)."""
        return self.base + "".join("/" + quote(segment, safe="") for segment in segments)

    def refusal(self, status: int, body: bytes, reason: str) -> ServerError:
        """What an error answer says (``answer_error``); a 401 also says what to do about the token."""
        error = answer_error(status, body, reason)
        if status != UNAUTHORIZED:
            return error
        if self.token:
            advice = "the token given (--token or LINKCAST_TOKEN) is not the server's"
        else:
            advice = "give the server's token with --token or LINKCAST_TOKEN"
        return ServerError(status, error.code, f"{error.message.rstrip('.')}: {advice}")

    def stream_url(self, since: int | None, request_ids: Sequence[str]) -> str:
        query = [("request_id", request_id) for request_id in request_ids]
        if since is not None:
            query.append(("since", str(since)))
        url = "ws" + self.url("scraped_urls").removeprefix("http")
        return url + (f"?{urlencode(query)}" if query else "")


def add_endpoint_arguments(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """``--server`` and ``--token``; ``default=argparse.SUPPRESS`` on a subcommand's parser leaves the values its
    parent's parser took, so that they may come before the subcommand or after it."""
    parser.add_argument(
        "--server", default=default, help=f"the linkcast server's URL [env LINKCAST_SERVER; default: {DEFAULT_SERVER}]"
    )
    parser.add_argument("--token", default=default, help="bearer token, if the server wants one [env LINKCAST_TOKEN]")


def endpoint_from_args(args: argparse.Namespace) -> Endpoint:
    """The endpoint the flags name, else the environment's, else the default; a bad value names where it came from."""
    server = _choose(args.server, "--server", "LINKCAST_SERVER", DEFAULT_SERVER)
    token = _choose(args.token, "--token", "LINKCAST_TOKEN", "")
    return Endpoint(_check_server(*server), _check_token(*token))


def _choose(flag: str | None, flag_name: str, env_name: str, default: str) -> tuple[str, str]:
    """The value and, for messages, the setting it came from."""
    if flag is not None:
        return flag, flag_name
    if env_name in os.environ:
        return os.environ[env_name], env_name
    return default, flag_name


def _invalid(source: str, value: str | None, why: str) -> LinkcastError:
    """A flag's bad value is a usage error, an environment variable's a bad setting; ``value=None`` keeps a secret
    out of the message."""
    if source.startswith("--"):
        return UsageError(f"{source}{'' if value is None else f' {value!r}'} {why}")
    return ConfigurationError(f"{source}{'' if value is None else f'={value!r}'} {why}")


def _check_server(value: str, source: str) -> str:
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018  (raises ValueError for a port that is not one)
    except ValueError as error:
        raise _invalid(source, value, f"is not a URL ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _invalid(source, value, f"is not an http:// or https:// URL (e.g. {DEFAULT_SERVER})")
    if parts.query or parts.fragment:
        raise _invalid(source, value, "has a query or fragment: give the server's base URL only")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _check_token(value: str, source: str) -> str:
    if not TOKEN_PATTERN.fullmatch(value):
        raise _invalid(source, None, "holds characters an HTTP header cannot carry (printable ASCII only)")
    return value


def answer_error(status: int, body: bytes, reason: str) -> ServerError:
    """What an error answer says: linkcast's JSON error, or for anything else (a proxy's page) ``http_<status>``."""
    try:
        error = orjson.loads(body)["error"]
        return ServerError(status, str(error["code"]), str(error["message"]))
    except (orjson.JSONDecodeError, TypeError, KeyError):
        return ServerError(status, f"http_{status}", reason or "the server answered with an error")


def describe_failure(failure: BaseException) -> str:
    """A failure in words: its message, or its type when it has none (a bare ``TimeoutError``)."""
    if isinstance(failure, TimeoutError) and not str(failure):
        return "timed out"
    if isinstance(failure, OSError) and failure.strerror:
        return failure.strerror  # without the "[Errno 111]" in front
    return str(failure) or type(failure).__name__
