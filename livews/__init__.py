"""livews: a WebSocket server you program while it runs.

The public API is small: write a ``Handler`` subclass, mark it with ``@resource("/path")``, serve it with
``python -m livews`` (or ``Server`` from code), and reach connected clients through ``self.client``,
``Server.clients()`` and ``broadcast``, or through groups on every node (``self.join``, ``publish``,
``members``).

Importing ``livews`` is cheap (handler files do it on every load): the vocabulary is plain Python, and the
server side (``Server``, ``Client``, ``broadcast``, ``ConnectionClosed``, which need asyncio) and ``keep``
(from the live layer) are imported the first time one of them is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Imported first on purpose: importing the submodule ``livews.resource`` binds the package attribute
# ``resource``, which the decorator ``resource`` imported below must then replace.
from . import resource as _resource_module  # noqa: F401
from .engine.limits import HandshakeLimits
from .handler import Handler, collect, resource
from .resource import Reject, Resource, Resources, any_origin, origin_exact, origin_prefix

if TYPE_CHECKING:
    from .live.keep import keep
    from .live.notebook import start, stop
    from .server import Client, ConnectionClosed, Server, broadcast, serve
    from .server.groups import members, publish
    from .server.http import Response

__version__ = "0.1.0"

__all__ = [
    "Client",
    "ConnectionClosed",
    "Handler",
    "HandshakeLimits",
    "Reject",
    "Resource",
    "Resources",
    "Response",
    "Server",
    "__version__",
    "any_origin",
    "broadcast",
    "collect",
    "keep",
    "members",
    "origin_exact",
    "origin_prefix",
    "publish",
    "resource",
    "serve",
    "start",
    "stop",
]

_LAZY = {
    "Client": "livews.server",
    "ConnectionClosed": "livews.server",
    "Server": "livews.server",
    "Response": "livews.server.http",
    "broadcast": "livews.server",
    "serve": "livews.server",
    "publish": "livews.server.groups",  # livews.publish(group, message): every member on every node
    "members": "livews.server.groups",
    "keep": "livews.live.keep",
    "start": "livews.live.notebook",  # srv = livews.start(port=0): a live server from a notebook cell
    "stop": "livews.live.notebook",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        if name == "Limits":
            raise AttributeError(
                "livews.Limits was split by owner: HandshakeLimits for Server(limits=...), and message "
                "limits as Resource(path, handler, max_frame_size=..., max_message_size=..., "
                "max_frame_count=...)"
            )
        raise AttributeError(f"module 'livews' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
