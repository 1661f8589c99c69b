"""``onyx serve``: models over HTTP with the KServe v2 / Triton protocol, dynamic batching,
Prometheus metrics and a web demo page.

Needs the ``serve`` extra (``pip install 'onyx-runtime[serve]'``); ``import onyx`` does not
import this package. Modules: ``repository`` (models and their config), ``protocol`` and
``tensors`` (requests and replies), ``batching``, ``metrics``, ``demo`` and ``static/`` (the
page), ``app`` (the routes), ``server`` (uvicorn).
"""

from __future__ import annotations

from onyx.errors import OnyxError

_REQUIRED = ("starlette", "uvicorn", "prometheus_client")


class MissingExtra(OnyxError, ImportError):
    """The packages of the ``serve`` extra are not installed."""


def require_extra() -> None:
    """Raise :class:`MissingExtra`, naming the install command, unless the serve extra is installed."""
    import importlib.util

    missing = [name for name in _REQUIRED if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtra(f"onyx serve needs {', '.join(missing)}: pip install 'onyx-runtime[serve]'")
