"""One exception hierarchy: every error has a stable ``code``, mapped once to HTTP answers and error events."""

from __future__ import annotations


class LinkcastError(Exception):
    """Base of every error linkcast reports to a client."""

    code: str = "internal"
    http_status: int = 500

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class InvalidInput(LinkcastError):
    """The client sent something the API cannot accept."""

    code = "invalid_input"
    http_status = 400


class Unauthorized(LinkcastError):
    """A bearer token is required and none valid was given."""

    code = "unauthorized"
    http_status = 401


class Forbidden(LinkcastError):
    """The caller is known to be one that may not do this (a page from another site)."""

    code = "forbidden"
    http_status = 403


class NotFound(LinkcastError):
    code = "not_found"
    http_status = 404


class Conflict(LinkcastError):
    """The request id is already taken by another URL."""

    code = "conflict"
    http_status = 409


class Unprocessable(LinkcastError):
    """The input is well formed but cannot be acted on (a URL that cannot be fetched to find its feed)."""

    code = "unprocessable"
    http_status = 422


class PayloadTooLarge(LinkcastError):
    code = "payload_too_large"
    http_status = 413


class UnsupportedMediaType(LinkcastError):
    code = "unsupported_media_type"
    http_status = 415


class RateLimited(LinkcastError):
    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(LinkcastError):
    code = "unavailable"
    http_status = 503


class Busy(Unavailable):
    """This server is doing as much of that as it does at once: retry after ``retry_after`` seconds."""

    code = "busy"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreUnavailable(Unavailable):
    """The store cannot be reached or read (Redis down, an I/O error): retry later."""

    code = "store_unavailable"


class StoreCorrupt(LinkcastError):
    """The store's data cannot be read as it should (a damaged database file): retrying will not help."""

    code = "store_corrupt"
    http_status = 503


class StoreFull(LinkcastError):
    """The store has no room left for writes (a full disk, Redis at maxmemory): nothing new can be accepted."""

    code = "store_full"
    http_status = 507


class ConfigurationError(LinkcastError):
    """A setting that cannot work; only the command line turns it into an exit."""

    code = "invalid_setting"


class FetchError(LinkcastError):
    """A fetch that ended without a usable page; ``code`` says why (``timeout``, ``dns``, ``http_status``...)."""

    code = "fetch_failed"
    http_status = 502


class Blocked(FetchError):
    """The target is refused by the address policy (SSRF guard)."""

    code = "blocked"
    http_status = 400
