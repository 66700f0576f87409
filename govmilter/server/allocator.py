"""glibc's allocator, set for a process that holds megabyte messages one after another.

glibc serves a block of ``M_MMAP_THRESHOLD`` (128 KiB) or more with a ``mmap`` of its own and
gives it back to the kernel when it is freed. But once such a block is freed, glibc raises the
threshold to that block's size (up to 32 MiB) and its trim threshold to twice that: after the
first 1 MB message, message bodies (pymilter's body chunks gathered into the spool, the bytes
read back for the scan) come from the heap instead, where freed memory stays resident, and
with libmilter's thread per connection each of glibc's arenas (up to 8 per core) keeps its
own. Setting the thresholds turns that adjustment off: large blocks go back to the kernel when
the message is done. What it saved and cost is in docs/performance.md ("Memory").

Only in the milter process, which keeps a message only until a worker has scanned it. The scan
workers are set the other way (``WORKER_MALLOC`` in govmilter/server/workers.py): each scan
makes and frees many such blocks (the decoded attachment, inflated parts, their text), and a
fresh ``mmap`` for each, zero-filled page by page, costs more CPU than keeping them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("govmilter.server.allocator")

#: ``mallopt`` parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Blocks from this size up get a ``mmap`` of their own (glibc's initial value, kept fixed).
MMAP_THRESHOLD = 128 * 1024
#: Free memory at the top of the heap past this size is given back to the kernel.
TRIM_THRESHOLD = 128 * 1024


def fix_malloc_thresholds() -> bool:
    """Fix glibc's mmap and trim thresholds for this process (see the module docstring).

    True when set; False where the C library is not glibc (nothing changes there).
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    if not done:
        log.info("could not set the C library's allocator thresholds; left as they are")
    return done
