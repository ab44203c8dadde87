"""Rendered page fragments remembered in each process's memory.

A fragment is cached under a key that names everything it shows (for a thread: the
discussion, how many entries it has and the newest one's id, the parties' names, the
language). A change to any of those is a new key, so nothing is ever invalidated and no
process can show another's stale copy: the old entry simply ages out of the LRU.

The cache belongs to the app (``app.extensions["fragments"]``). Rows are assumed never to
reuse an id; after restoring a database from a backup, restart the workers (or call
:func:`clear`) as for any other in-process cache.
"""

import threading
from collections.abc import Callable, Hashable

from cachetools import LRUCache
from flask import Flask, current_app
from markupsafe import Markup


class FragmentCache:
    def __init__(self, size: int):
        self._cache: LRUCache = LRUCache(maxsize=size)
        # `flask serve` and threaded servers share the cache between threads.
        self._lock = threading.Lock()

    def get_or_render(self, key: Hashable, render: Callable[[], str]) -> Markup:
        with self._lock:
            found = self._cache.get(key)
        if found is None:
            found = Markup(render())  # noqa: S704 - a rendered, autoescaped template
            with self._lock:
                self._cache[key] = found
        return found

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)


def init_fragments(app: Flask) -> None:
    # A thread of twenty messages is about 12 kB: the default 2,048 hold about 25 MB.
    app.extensions["fragments"] = FragmentCache(int(app.config["FRAGMENT_CACHE_SIZE"]))


def fragment(key: Hashable, render: Callable[[], str]) -> Markup:
    """The fragment under ``key``, rendered by ``render()`` only when not yet cached."""
    return current_app.extensions["fragments"].get_or_render(key, render)


def clear(app: Flask) -> None:
    app.extensions["fragments"].clear()
