"""What a request can get wrong: each error carries the HTTP status the client receives."""

from __future__ import annotations

from onyx.errors import OnyxError


class RequestError(OnyxError):
    """A request the server refuses; ``status`` is the HTTP status code of the JSON reply."""

    status = 400

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class NotFound(RequestError):
    """An unknown model, version or route."""

    status = 404


class PayloadTooLarge(RequestError):
    """A request body over the server's limit."""

    status = 413


class Unavailable(RequestError):
    """A model's queue is full, or the server is shutting down."""

    status = 503
