"""What OCR read in an attachment, kept by the SHA-256 of its bytes, so a scan is read once.

An agency sends the same scanned letter to sixty provinces in sixty messages: each scan worker
reads it once and answers the other copies from memory. The key is the digest of the decoded
attachment bytes together with what changes the reading (the policy's detection settings and
its OCR page and pixel limits), so a policy change starts afresh.

What is held: for each attachment, the texts OCR read (page, region, confidence and the text
itself, which is the text of the document) and the reasons a limit gave. Memory only, never
written to disk, per process (each scan worker has its own); an entry stays until it is the
least recently used one past :data:`MAX_ENTRIES` entries or :data:`MAX_CHARS` characters, or
until its worker is replaced. A reading cut short by the time limit is not kept: a later copy,
on a less busy machine, may be read whole.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

#: Attachments remembered per process.
MAX_ENTRIES = 1000
#: Characters of text remembered per process (about 8 MB: Vietnamese text takes two bytes a
#: character in Python); a letter's OCR text is 2,000 to 6,000.
MAX_CHARS = 4_000_000


@dataclass(frozen=True, slots=True)
class CachedReading:
    """One attachment's OCR result, without the attachment's position in its message."""

    texts: tuple[tuple[str, str], ...]  #: (where: "OCR, page 1, top of page, ...", text)
    notes: tuple[str, ...]  #: limit reasons, without the "attachment N: " prefix
    pages: int  #: pages the reading took

    @property
    def chars(self) -> int:
        return sum(len(text) for _, text in self.texts)


class OcrCache:
    """A least-recently-used map from (digest, settings) to :class:`CachedReading`."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_chars: int = MAX_CHARS) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._entries: OrderedDict[Hashable, CachedReading] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> CachedReading | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: Hashable, reading: CachedReading) -> None:
        if reading.chars > self.max_chars:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._chars -= old.chars
            self._entries[key] = reading
            self._chars += reading.chars
            while len(self._entries) > self.max_entries or self._chars > self.max_chars:
                _, dropped = self._entries.popitem(last=False)
                self._chars -= dropped.chars

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._chars = 0


#: This process's cache (a scan worker's, or a command's).
SHARED_CACHE = OcrCache()
