"""What reaches the app over HTTP: a pure ASGI middleware in front of gradio's routes.

- Every response carries a Content-Security-Policy: the page loads images, media, fonts and
  scripts and connects only to its own origin, and its forms post only there, so a question, a file
  name or an answer rendered in the chat cannot make a viewer's browser fetch from or post to
  another host.
- A request body is refused (413) past `max_body` bytes before it is read, except uploads, which
  gradio bounds by its own `max_file_size`.
- A fair share of the queue: a job (a page step, an API call, an agent's tool call) is refused with
  429 when its visitor already has `jobs_per_visitor` jobs waiting or running, or its address
  `jobs_per_address`; counted in gradio's own queue (`jobs`), before anything is queued, so that
  one client's flood is refused for that client alone.
- Uploads are counted per client address (429 past `uploads_per_minute`, and past a quarter of
  `uploads_bytes` within `upload_window_s`) and refused while the upload folder holds more than
  `uploads_bytes` (507), counting the bytes as they arrive (chunked or not, whatever a header
  declares); an upload whose client goes away is ended quietly (gradio's
  partial file is left to the janitor), and a full disk is named as such.
- gradio's own fetch of `/gradio_api/file=<URL>` and its `/proxy=` route are closed: files by URL go
  through the app's bounded fetch (`model/media/remote.py`) only.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model.serving.sessions import tab_of
from model.serving.visitors import VISITOR_HEADER, Visitor, VisitorStamp, visitor_of

MAX_BODY = 2 << 20  # a question, a camera frame (at most ~1.5 MB of JPEG) and settings fit easily
UPLOAD_PATH = "/gradio_api/upload"
JOB_PATHS = ("/gradio_api/queue/join", "/gradio_api/call/")  # what puts a job into gradio's queue
MCP_PATH = "/gradio_api/mcp"
URL_ROUTES = ("/gradio_api/file=", "/gradio_api/proxy=")  # gradio's own fetches of what a client names
SIZE_EVERY_S = 5.0  # how often the upload folder is measured
MAX_ADDRESSES = 10_000  # addresses whose recent uploads are remembered
UPLOAD_SHARE = 4  # one address may fill at most 1/4 of the upload folder's limit within upload_window_s
TOO_MANY_JOBS = (
    "You already have {count} requests waiting or running; please wait for them to finish "
    "(or press Stop) before asking again."
)

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

JobCount = Callable[[Visitor], tuple[int, int]]  # (this visitor's jobs, this address's jobs) in the queue


def no_jobs(visitor: Visitor) -> tuple[int, int]:
    return 0, 0


@dataclass(frozen=True)
class GuardLimits:
    """The operator's limits (app.py builds them from the flags)."""

    upload_dir: str
    uploads_per_minute: int = 240
    uploads_bytes: int = 20 << 30
    max_body: int = MAX_BODY
    jobs_per_visitor: int = 4
    jobs_per_address: int = 8
    upload_window_s: float = 3600.0  # uploads live this long (--file-ttl): an address's share counts them


class Guard:
    """The middleware; `app` is gradio's FastAPI application. `jobs` counts a visitor's jobs in the
    queue (the page supplies it, reading gradio's queue), `stamp` signs agents' addresses."""

    def __init__(
        self, app: ASGIApp, limits: GuardLimits, jobs: JobCount = no_jobs, stamp: VisitorStamp | None = None
    ) -> None:
        self.app, self.limits, self.jobs = app, limits, jobs
        self.stamp = stamp or VisitorStamp()
        self.limited = RequestBodyLimitMiddleware(app, max_body_size=limits.max_body)
        self._uploads: OrderedDict[str, deque[float]] = OrderedDict()  # an address's recent upload times
        self._uploaded: OrderedDict[str, deque[tuple[float, int]]] = OrderedDict()  # and its bytes, by second
        self._joining: Counter[str] = Counter()  # jobs let through and not yet in gradio's queue
        self._lock = threading.Lock()
        self._size = (0.0, 0)  # (measured at, bytes), plus the upload bytes arrived since

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = with_headers(send)
        path = scope["path"]
        if fetches_a_url(path):
            await plain(send, 403, "This demo does not fetch URLs through this route.")
        elif path.rstrip("/").endswith(UPLOAD_PATH):
            await self.upload(scope, receive, send)
        elif scope["method"] == "POST" and path.startswith(JOB_PATHS):
            await self.job(scope, receive, send)
        else:
            if path.startswith(MCP_PATH):
                scope = stamped(scope, self.stamp.stamp(client_host(scope)))
            await quiet_when_gone(self.limited, scope, receive, send)

    # ----- a fair share of the queue ------------------------------------------------------

    async def job(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A request that queues a job: refused (429) past its visitor's or its address's share."""
        body = await read_body(receive, self.limits.max_body)
        if body is None:
            await plain(send, 413, "The request is too large.")
            return
        visitor = visitor_of(client_host(scope), scope.get("headers", []), session_of(body), self.stamp)
        keys = [f"address:{visitor.address}"] + ([f"session:{visitor.session}"] if visitor.session else [])
        with self._lock:
            visitor_jobs, address_jobs = self.jobs(visitor)
            address_jobs += self._joining[keys[0]]
            visitor_jobs += self._joining[keys[1]] if visitor.session else 0
            over = address_jobs >= self.limits.jobs_per_address or visitor_jobs >= self.limits.jobs_per_visitor
            if not over:
                self._joining.update(keys)
        if over:
            await plain(send, 429, TOO_MANY_JOBS.format(count=max(visitor_jobs, address_jobs)))
            return
        try:
            await self.app(scope, replay(body, receive), send)
        finally:
            with self._lock:
                self._joining.subtract(keys)
                for key in keys:
                    if self._joining[key] <= 0:
                        del self._joining[key]

    # ----- uploads ------------------------------------------------------------------------

    async def upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self.refuse_upload(scope)
        if refusal is not None:
            await plain(send, *refusal)
            return
        started, refusal = False, None
        address = client_host(scope)

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def counted() -> Message:
            """The body as it arrives, counted against the disk and the address's share of it; the
            connection is ended for gradio (a disconnect) once either would be exceeded."""
            nonlocal refusal
            message = await receive()
            if message["type"] == "http.request":
                refusal = self.arrived(address, len(message.get("body", b"")))
                if refusal is not None:
                    return {"type": "http.disconnect"}
            return message

        try:
            await self.app(scope, counted, tracked)
        except ClientDisconnect:
            if refusal is not None and not started:
                await plain(send, *refusal)
            return  # else the client went away mid-upload: nobody to answer, nothing to log
        except OSError as exc:
            if exc.errno != errno.ENOSPC or started:
                raise
            await plain(send, 507, "The demo's disk is full; please try again later.")
        if refusal is not None and not started:
            await plain(send, *refusal)

    def refuse_upload(self, scope: Scope) -> tuple[int, str] | None:
        """(status, message) when this upload must be refused before its body is read, else None."""
        address = client_host(scope)
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
            refusal = self.over_share(address, now)
            if refusal is not None:
                return refusal  # its share is used up: refused before a byte of the body is read
            recent.append(now)
            if self.upload_bytes() >= self.limits.uploads_bytes:
                return 507, DISK_FULL
        return None

    def arrived(self, address: str, nbytes: int) -> tuple[int, str] | None:
        """Count `nbytes` of upload that just arrived from `address`; (status, message) when the folder
        would then hold more than its limit, or the address more than its share (they are not counted
        then: the upload ends)."""
        now = time.monotonic()
        with self._lock:
            if self.upload_bytes() + nbytes > self.limits.uploads_bytes:
                return 507, DISK_FULL
            refusal = self.over_share(address, now, nbytes)
            if refusal is not None:
                return refusal
            recent = self._uploaded[address]
            if recent and now - recent[-1][0] < 1.0:
                recent[-1] = (recent[-1][0], recent[-1][1] + nbytes)  # one entry a second
            else:
                recent.append((now, nbytes))
            measured_at, size = self._size
            self._size = (measured_at, size + nbytes)
            return None

    def over_share(self, address: str, now: float, nbytes: int = 1) -> tuple[int, str] | None:
        """(429, message) when `nbytes` more would take `address` past its share of the upload disk
        within the window (called with the lock held)."""
        recent = self._uploaded.setdefault(address, deque())
        self._uploaded.move_to_end(address)
        while recent and now - recent[0][0] > self.limits.upload_window_s:
            recent.popleft()
        while len(self._uploaded) > MAX_ADDRESSES:
            self._uploaded.popitem(last=False)
        share = self.limits.uploads_bytes // UPLOAD_SHARE
        if sum(n for _, n in recent) + nbytes <= share:
            return None
        return 429, (
            f"You have uploaded {share / 2**20:,.0f} MB in the last {self.limits.upload_window_s / 60:.0f} "
            "minutes, as much as one visitor may; please try again later."
        )

    def upload_bytes(self) -> int:
        """What the upload folder holds: measured at most every SIZE_EVERY_S seconds, plus the
        upload bytes arrived since (called with the lock held)."""
        measured_at, size = self._size
        if time.monotonic() - measured_at > SIZE_EVERY_S:
            size = folder_bytes(Path(self.limits.upload_dir))
            self._size = (time.monotonic(), size)
        return size


DISK_FULL = "The demo's disk is full for now; please try again in a few minutes."


async def quiet_when_gone(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run `app`, ending quietly what is a client's doing, not a fault: a failure once the client
    has gone away (an event stream dropped mid-way), or an HTTP error meant for the client that came
    after its response had started (gradio's event stream for a session with nothing queued raises
    404 inside the stream). starlette reports both as 'Exception in ASGI application'."""
    gone, ended = False, False

    async def listening() -> Message:
        nonlocal gone
        message = await receive()
        gone = gone or message["type"] == "http.disconnect"
        return message

    async def sending(message: Message) -> None:
        nonlocal gone, ended
        try:
            await send(message)
        except (OSError, ClientDisconnect):
            gone = True
            raise
        ended = message["type"] == "http.response.body" and not message.get("more_body", False)

    try:
        await app(scope, listening, sending)
    except Exception as exc:
        if not (gone or isinstance(exc.__cause__, HTTPException)):
            raise
        if not (gone or ended):  # end the stream that was started
            try:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except (OSError, ClientDisconnect):
                pass


def fetches_a_url(path: str) -> bool:
    """True for gradio's routes that would fetch what the client names (`/file=http…`, `/proxy=…`)."""
    for route in URL_ROUTES:
        at = path.find(route)
        if at >= 0:
            named = path[at + len(route) :].strip().lower()
            return route.endswith("proxy=") or named.startswith(("http:", "https:", "//")) or "://" in named
    return False


def client_host(scope: Scope) -> str:
    return str((scope.get("client") or ("unknown",))[0])


def stamped(scope: Scope, stamp: bytes) -> Scope:
    """The scope with this guard's visitor stamp as its only one (a client's own is dropped)."""
    headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != VISITOR_HEADER]
    return {**scope, "headers": [*headers, (VISITOR_HEADER, stamp)]}


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None past `limit` bytes (then nothing more is read)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands over the body already read, then what the connection says next."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def session_of(body: bytes) -> str | None:
    """The session hash a queue join names (checked by its shape), or None."""
    try:
        value = json.loads(body).get("session_hash")
    except (ValueError, AttributeError):
        return None
    return tab_of(value)


def content_length(scope: Scope) -> int:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return max(0, int(value))
            except ValueError:
                return 0
    return 0


def folder_bytes(folder: Path) -> int:
    """Bytes of the regular files under `folder`. Files and folders removed while it counts (the
    janitor, an upload moved into place) are passed over: `os.walk` skips a folder that vanished
    between being listed and being read, where `Path.rglob` raised, and the upload that asked got 500."""
    total = 0
    for root, _folders, files in os.walk(folder):
        for name in files:
            try:
                info = os.lstat(os.path.join(root, name))
            except OSError:
                continue  # removed while counting
            if stat.S_ISREG(info.st_mode):
                total += info.st_size
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
