"""Running the application on uvicorn: in the foreground (``onyx serve``) or in a background thread."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette

GRACEFUL_SHUTDOWN_S = 30


def _config(app: Starlette, host: str, port: int, log_level: str) -> uvicorn.Config:
    # uvicorn stops accepting on SIGTERM / SIGINT, lets in-flight requests finish (for at most
    # GRACEFUL_SHUTDOWN_S), then runs the application's shutdown
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                          timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, lifespan="on")


def run(app: Starlette, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then shut down gracefully."""
    uvicorn.Server(_config(app, host, port, log_level)).run()


@contextlib.contextmanager
def running_in_thread(app: Starlette, host: str = "127.0.0.1", port: int = 0,
                      startup_timeout_s: float = 30) -> Iterator[str]:
    """Serve ``app`` in a background thread; yields its base URL ("http://host:port") and stops it after."""
    server = uvicorn.Server(_config(app, host, port, "warning"))
    thread = threading.Thread(target=server.run, name="onyx-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the server did not start on {host}:{port}")
        time.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(GRACEFUL_SHUTDOWN_S + 5)
