"""Server-wide defaults for the options of every resource: ``--max-message-size``, ``--no-compression`` and
the deflate backend.

A server serves resources it did not make (handler files the live registry loads, classes registered at a
prompt), so a limit meant for the whole server cannot be written into each of them. Instead the server asks
here, once per handshake, what a resource's connection gets:

- a resource whose option is still livews' default (``Resource``'s field default) takes the server's;
- a resource that chose another value keeps its own: the resource knows its traffic best. A resource that
  names livews' default explicitly cannot be told from one that said nothing, and takes the server's.

Nothing here runs per message: the ``MessageLimits`` a connection gets are made once per resource and kept.
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import TYPE_CHECKING

from ..engine.limits import MessageLimits

if TYPE_CHECKING:
    from ..engine.deflate import DeflateConfig
    from ..resource import Resource

__all__ = ["ResourceDefaults"]

_LIBRARY = MessageLimits()


class ResourceDefaults:
    """The server's ``max_message_size`` (``None``: livews' own), ``compression`` and ``deflate_backend``."""

    def __init__(
        self, max_message_size: int | None = None, compression: bool = True, deflate_backend: str = "auto"
    ) -> None:
        if max_message_size is not None and (not isinstance(max_message_size, int) or max_message_size < 1):
            raise ValueError(f"max_message_size must be a positive number of bytes, not {max_message_size!r}")
        self.max_message_size = max_message_size
        self.compression = compression
        self._deflate: DeflateConfig | None = None
        if compression:
            from ..engine.deflate import DeflateConfig

            # Made once, and now, so an unknown or missing backend fails when the server is made.
            self._deflate = DeflateConfig(backend=deflate_backend)
        self._limits: weakref.WeakKeyDictionary[Resource, MessageLimits] = weakref.WeakKeyDictionary()

    def limits(self, resource: Resource) -> MessageLimits:
        """The message limits of a connection to ``resource``."""
        size = self.max_message_size
        if size is None or resource.max_message_size != _LIBRARY.max_message_size:
            return resource.limits
        limits = self._limits.get(resource)
        if limits is None:
            # A frame may be as large as a message unless the resource chose a frame limit of its own.
            frame = size if resource.max_frame_size == _LIBRARY.max_frame_size else resource.max_frame_size
            limits = dataclasses.replace(resource.limits, max_message_size=size, max_frame_size=frame)
            self._limits[resource] = limits
        return limits

    def compression_of(self, resource: Resource) -> DeflateConfig | None:
        """The resource's ``DeflateConfig``, or None for no compression: a resource that said ``True`` gets
        the server's (off where the server turns compression off, with the server's backend)."""
        config = resource.compression
        if config is True:
            return self._deflate
        if not config:
            return None
        return config
