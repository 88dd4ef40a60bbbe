"""The kit's fixtures, imported here rather than through the ``pytest11`` entry point.

The project's own run turns the installed entry point off (``-p no:livews`` in pyproject's ``addopts``): an
entry-point plugin is imported before pytest-cov starts, and with it the whole ``livews`` package, whose
module-level lines would then go unmeasured. ``test_plugin.py`` checks the entry point itself, in a pytest
of its own.
"""

from livews.testing.plugin import livews_live_edit, livews_server

__all__ = ["livews_live_edit", "livews_server"]
