"""The log holds what an operator needs and nothing a visitor sent.

A failure is logged as its exception's type and where it was raised (file and line), never its
message: gradio's messages quote a request's inputs ("Received inputs: [...]"), and an exception
of our own could quote a question or a file name. Gradio prints the traceback of a failed event
with `traceback.print_exc()`; inside its queue and routes that call logs the summary instead.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from types import ModuleType

log = logging.getLogger("app.requests")


def summary(exc: BaseException | None) -> str:
    """'ValueError at gradio/blocks.py:2064': the type and the innermost frame, no message."""
    if exc is None:
        return "no exception"
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        parts = Path(last.filename).parts
        where = f" at {'/'.join(parts[-2:])}:{last.lineno}"
    return f"{type(exc).__name__}{where}"


class _QuietTraceback(ModuleType):
    """`traceback`, with `print_exc` logging the summary of the exception being handled."""

    def __init__(self) -> None:
        super().__init__("traceback")

    def __getattr__(self, name: str):
        return getattr(traceback, name)

    @staticmethod
    def print_exc(*args, **kwargs) -> None:
        log.warning("a request failed: %s", summary(sys.exc_info()[1]))


class _Summarised(logging.Filter):
    """Turns a record's traceback into its summary (uvicorn logs 'Exception in ASGI application')."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()} ({summary(record.exc_info[1])})".replace("\n", " ")
            record.args, record.exc_info, record.exc_text = (), None, None
        return True


GRADIO_MODULES = ("gradio.queueing", "gradio.routes", "gradio.route_utils", "gradio.utils", "gradio.blocks")


def guard_logs() -> None:
    """Install both, once per process (idempotent), and keep httpx's request lines out: they name
    URLs a client sent (a file to fetch) and session hashes (gradio's MCP server calls its own queue)."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in GRADIO_MODULES:
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "traceback"):
            module.traceback = _QuietTraceback()
    for name in ("uvicorn.error", "uvicorn", "gradio", "httpx"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Summarised) for f in logger.filters):
            logger.addFilter(_Summarised())
