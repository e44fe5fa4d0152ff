"""Big transient buffers go back to the system once freed.

glibc's malloc serves big allocations by mmap (freed at once) only above a threshold that it
raises after the first such free, up to 32 MiB; below it, freed memory stays in the thread's heap.
Decoding one 40-megapixel picture in a worker thread left ~500 MB with the process that way.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
BIG = 8 << 20  # bytes: a 1080p RGB frame is 6 MB, one of Pillow's image blocks 16 MB


def return_big_buffers(threshold: int = BIG) -> bool:
    """Serve allocations of `threshold` bytes and more by mmap, for good (fixing the threshold also
    stops glibc from raising it); False where the C library has no mallopt (not glibc)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        return False
