"""Deleting uploaded files after their time-to-live, on a background thread of the server.

gradio's own `delete_cache` task iterates its sets of files while uploads add to them and can die
with "Set changed size during iteration"; this loop calls the same deletion and simply tries again
at the next sweep.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref

log = logging.getLogger(__name__)


def start_file_janitor(demo, every_s: float, older_than_s: int) -> threading.Thread:
    """Every `every_s` seconds, delete the files `demo` created or received older than `older_than_s`.

    The thread ends by itself once the app is closed (or garbage-collected).
    """
    from gradio.route_utils import delete_files_created_by_app

    app = weakref.ref(demo)

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
                    log.warning("could not delete old uploads: %s", exc)
            del blocks
            time.sleep(every_s)

    thread = threading.Thread(target=sweep, name="file-janitor", daemon=True)
    thread.start()
    return thread
