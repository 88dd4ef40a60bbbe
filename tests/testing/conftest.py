"""The kit's fixtures, imported so these tests run whether or not the ``pytest11`` entry point is installed.

(An editable install made before the entry point existed does not have it; ``test_plugin.py`` checks the
entry point itself.)
"""

from livews.testing.plugin import livews_live_edit, livews_server

__all__ = ["livews_live_edit", "livews_server"]
