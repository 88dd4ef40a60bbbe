"""livews: a WebSocket server you program while it runs.

The public API is small: write a ``Handler`` subclass, mark it with ``@resource("/path")``, serve it with
``python -m livews`` (or ``Server`` from code), and reach connected clients through ``self.client``,
``Server.clients()`` and ``broadcast``.
"""

from __future__ import annotations

# Imported first on purpose: importing the submodule ``livews.resource`` binds the package attribute
# ``resource``, which the decorator ``resource`` imported below must then replace.
from . import resource as _resource_module  # noqa: F401
from .engine.limits import Limits
from .handler import Handler, collect, resource
from .resource import Reject, Resource, Resources, any_origin, origin_exact, origin_prefix
from .server import Client, Server, broadcast

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Handler",
    "Limits",
    "Reject",
    "Resource",
    "Resources",
    "Server",
    "__version__",
    "any_origin",
    "broadcast",
    "collect",
    "origin_exact",
    "origin_prefix",
    "resource",
]
