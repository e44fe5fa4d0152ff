"""What reaches the app over HTTP: a pure ASGI middleware in front of gradio's routes.

- Every response carries a Content-Security-Policy: the page loads images, media, fonts and
  scripts and connects only to its own origin, and its forms post only there, so a question, a file
  name or an answer rendered in the chat cannot make a viewer's browser fetch from or post to
  another host.
- A request body is refused (413) past `max_body` bytes before it is read, except uploads, which
  gradio bounds by its own `max_file_size`.
- Uploads are counted per client address (429 past `uploads_per_minute`) and refused while the
  upload folder holds more than `uploads_bytes` (507); an upload whose client goes away is ended
  quietly (gradio's partial file is left to the janitor), and a full disk is named as such.
"""

from __future__ import annotations

import errno
import json
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from pathlib import Path

from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 2 << 20  # a question, a camera frame (at most ~1.5 MB of JPEG) and settings fit easily
UPLOAD_PATH = "/gradio_api/upload"
SIZE_EVERY_S = 5.0  # how often the upload folder is measured
MAX_ADDRESSES = 10_000  # addresses whose recent uploads are remembered

CSP = "; ".join(
    [
        "default-src 'self'",
        # gradio's page runs inline scripts and the page's own js= through Function()
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",  # same-origin fetch, event streams and websockets
        "form-action 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "worker-src 'self' blob:",
    ]
)


@dataclass(frozen=True)
class GuardLimits:
    """The operator's limits (app.py builds them from the flags)."""

    upload_dir: str
    uploads_per_minute: int = 240
    uploads_bytes: int = 20 << 30
    max_body: int = MAX_BODY


class Guard:
    """The middleware; `app` is gradio's FastAPI application."""

    def __init__(self, app: ASGIApp, limits: GuardLimits) -> None:
        self.app, self.limits = app, limits
        self.limited = RequestBodyLimitMiddleware(app, max_body_size=limits.max_body)
        self._uploads: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()
        self._size = (0.0, 0)  # (measured at, bytes), plus what was let in since

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = with_headers(send)
        if not scope["path"].rstrip("/").endswith(UPLOAD_PATH):
            await self.limited(scope, receive, send)
            return
        refusal = self.refuse_upload(scope)
        if refusal is not None:
            await plain(send, *refusal)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except ClientDisconnect:
            return  # the client went away mid-upload: nobody to answer, nothing to log
        except OSError as exc:
            if exc.errno != errno.ENOSPC or started:
                raise
            await plain(send, 507, "The demo's disk is full; please try again later.")

    def refuse_upload(self, scope: Scope) -> tuple[int, str] | None:
        """(status, message) when this upload must be refused, else None."""
        address = (scope.get("client") or ("unknown",))[0]
        now = time.monotonic()
        with self._lock:
            recent = self._uploads.setdefault(address, deque())
            self._uploads.move_to_end(address)
            while recent and now - recent[0] > 60:
                recent.popleft()
            while len(self._uploads) > MAX_ADDRESSES:
                self._uploads.popitem(last=False)
            if len(recent) >= self.limits.uploads_per_minute:
                return 429, "Too many uploads from your address; please wait a minute and try again."
            recent.append(now)
        coming = content_length(scope)
        with self._lock:
            if self.upload_bytes() + coming > self.limits.uploads_bytes:
                return 507, "The demo's disk is full for now; please try again in a few minutes."
            measured_at, size = self._size
            self._size = (measured_at, size + coming)  # counted until the folder is measured again
        return None

    def upload_bytes(self) -> int:
        """What the upload folder holds: measured at most every SIZE_EVERY_S seconds, plus the
        uploads let in since."""
        measured_at, size = self._size
        if time.monotonic() - measured_at > SIZE_EVERY_S:
            size = folder_bytes(Path(self.limits.upload_dir))
            self._size = (time.monotonic(), size)
        return size


def content_length(scope: Scope) -> int:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return max(0, int(value))
            except ValueError:
                return 0
    return 0


def folder_bytes(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        except OSError:
            continue  # removed while counting
    return total


def with_headers(send: Send) -> Send:
    """`send` adding the page's security headers to the response."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-security-policy"]
            headers += [
                (b"content-security-policy", CSP.encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"same-origin"),
            ]
            message = {**message, "headers": headers}
        await send(message)

    return sending


async def plain(send: Send, status: int, text: str) -> None:
    """A small JSON answer ({"detail": text}, as gradio's own errors come)."""
    body = json.dumps({"detail": text}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
