"""Deleting what the server keeps on disk once nobody can use it, on a background thread.

- Uploads older than their time-to-live, through gradio's own deletion. Its `delete_cache` task
  iterates its sets of files while uploads add to them and can die with "Set changed size during
  iteration"; this loop calls the same deletion and simply tries again at the next sweep.
- Partial uploads: gradio writes an upload into a `tmp…` file at the top of its upload folder and
  moves it once complete; a client that goes away mid-upload leaves it behind, tracked by nothing.
  Such a file not written to for PARTIAL_IDLE_S (or the file TTL, when shorter) is removed.
- Conversation folders (frame images, exports, previews) not touched for longer than a session
  can live: their conversation is gone without its clean-up having run.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from pathlib import Path

from model.serving.storage import frames_root, is_id, remove_tree

log = logging.getLogger(__name__)

PARTIAL_IDLE_S = 120.0  # a live upload writes to its file continuously


def remove_partial_uploads(upload_dir: Path, idle_s: float, now: float | None = None) -> int:
    """Delete gradio's abandoned partial uploads at the top of `upload_dir`; returns how many."""
    now = time.time() if now is None else now
    gone = 0
    for path in upload_dir.glob("tmp*"):
        try:
            if path.is_file() and not path.is_symlink() and now - path.stat().st_mtime > idle_s:
                path.unlink()
                gone += 1
        except OSError:
            continue  # moved into place or removed meanwhile
    return gone


def remove_stale_conversations(older_than_s: float, now: float | None = None) -> int:
    """Delete conversation folders not touched for `older_than_s`; returns how many."""
    now = time.time() if now is None else now
    root, gone = frames_root(), 0
    if not root.is_dir():
        return 0
    for folder in root.iterdir():
        try:
            if is_id(folder.name) and now - folder.stat().st_mtime > older_than_s and remove_tree(folder):
                gone += 1
        except OSError:
            continue
    return gone


def start_file_janitor(
    demo, every_s: float, older_than_s: int, conversations_s: float | None = None
) -> threading.Thread:
    """Every `every_s` seconds, delete the files `demo` created or received older than `older_than_s`,
    abandoned partial uploads, and conversation folders idle for `conversations_s` (None: never).

    The thread ends by itself once the app is closed (or garbage-collected).
    """
    from gradio.route_utils import delete_files_created_by_app
    from gradio.utils import get_upload_folder

    app = weakref.ref(demo)
    upload_dir = Path(get_upload_folder())
    partial_s = min(PARTIAL_IDLE_S, older_than_s)

    def sweep() -> None:
        started = False
        while (blocks := app()) is not None:
            running = blocks.is_running
            started = started or running
            if started and not running:
                return
            if running:
                try:
                    delete_files_created_by_app(blocks, age=older_than_s)
                except RuntimeError:  # a set changed size while new uploads came in: next time
                    pass
                except OSError as exc:
                    log.warning("could not delete old uploads: %s", type(exc).__name__)  # no path in the log
                remove_partial_uploads(upload_dir, partial_s)
                if conversations_s is not None:
                    remove_stale_conversations(conversations_s)
            del blocks
            time.sleep(every_s)

    thread = threading.Thread(target=sweep, name="file-janitor", daemon=True)
    thread.start()
    return thread
