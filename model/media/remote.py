"""Files a request names by URL instead of uploading them (programs and MCP agents do).

- A URL of this app's own file route (`…/gradio_api/file=<path>`, what an upload returns) is read
  in place when `<path>` (links resolved) is a file under the readable roots: the same "uploaded to
  this demo" rule as every other input, on loopback too. Nothing is fetched for it.
- Any other http(s) URL is fetched only when the operator allows it, and only from a public
  address (the name is resolved once and the connection pinned to that address, so a second
  lookup cannot point it at this machine or its network), every redirect checked again; the body
  is streamed to disk, stopped past `max_bytes` and past `timeout_s` in all.

gradio's own fetch for file inputs reads the whole body into memory with no size or time bound;
the app's file inputs use `resolve_url` instead (ui/remote_inputs.py).
"""

from __future__ import annotations

import asyncio
import ipaddress
import mimetypes
import os
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from model.media.formats import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from model.serving.storage import new_id

OWN_FILE_ROUTE = "/gradio_api/file="
MAX_REDIRECTS = 3
CHUNK = 1 << 16
FETCHED_DIR = "llava-fetched"  # under the upload folder, so the janitor and the disk guard see it

Resolver = Callable[[str], Awaitable[str]]


class RemoteFileError(ValueError):
    """A URL that cannot be used; the message is safe to show (it names no path and no address)."""


@dataclass(frozen=True)
class RemoteFiles:
    """What file URLs may name: local files under `roots`, and public URLs when `fetch_public`."""

    roots: tuple[str, ...]
    folder: str  # where fetched files are written (gradio's upload folder)
    max_bytes: int
    fetch_public: bool = True
    timeout_s: float = 120.0


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def own_file(url: str, roots: tuple[str, ...]) -> str | None:
    """The local file an app file URL names, when it is a file under `roots`; else None."""
    path = urlsplit(url).path
    if OWN_FILE_ROUTE not in path:
        return None
    real = Path(unquote(path.split(OWN_FILE_ROUTE, 1)[1])).resolve()
    inside = any(real.is_relative_to(Path(root).resolve()) for root in roots)
    return str(real) if inside and real.is_file() else None


async def resolve_url(url: str, policy: RemoteFiles, resolve: Resolver | None = None) -> str:
    """A local path for a file URL: the app's own file in place, or a public URL fetched to disk."""
    local = own_file(url, policy.roots)
    if local is not None:
        return local
    if not policy.fetch_public:
        raise RemoteFileError(
            "This demo takes files by upload only: upload the file, then pass the URL the upload returns."
        )
    try:
        async with asyncio.timeout(policy.timeout_s):
            return await _fetch(url, policy, resolve or public_address)
    except TimeoutError:
        raise RemoteFileError(f"The file took longer than {policy.timeout_s:.0f} s to download.") from None
    except httpx.HTTPError:
        raise RemoteFileError("The file could not be downloaded (the connection failed).") from None


NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known prefix: the last 32 bits are the IPv4 address
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # a network's own translation prefix: anything may sit inside


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the forms that carry one:
    IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d), 6to4 (2002:AABB:CCDD::)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if int(address) >> 32 == 0:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def is_public(ip: str) -> bool:
    """True for an address on the public internet: not loopback, private, shared (100.64/10),
    link-local, site-local, reserved or multicast; an IPv6 form that carries an IPv4 address is
    judged by that address, and Teredo tunnels and local NAT64 prefixes are refused."""
    address = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local or address.teredo is not None or address in NAT64_LOCAL:
            return False
        inner = embedded_ipv4(address)
        if inner is not None:
            address = inner
    return address.is_global and not address.is_multicast


async def public_address(host: str) -> str:
    """One public address of `host`; RemoteFileError when it has none."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise RemoteFileError("The file's host name does not resolve.") from None
    for *_, sockaddr in infos:
        if is_public(str(sockaddr[0])):
            return str(sockaddr[0])
    raise RemoteFileError(
        "That URL is not on a public host: upload the file to this demo, then pass the URL the upload returns."
    )


class _PinnedTransport(httpx.AsyncHTTPTransport):
    """Connects to one checked address while the request keeps its host name (Host header, TLS SNI)."""

    def __init__(self, address: str):
        super().__init__()
        self.address = address

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        request.url = request.url.copy_with(host=self.address)
        request.headers["Host"] = host
        request.extensions = {**request.extensions, "sni_hostname": host}
        return await super().handle_async_request(request)


async def _fetch(url: str, policy: RemoteFiles, resolve: Resolver) -> str:
    for _ in range(MAX_REDIRECTS + 1):
        target = httpx.URL(url)
        if target.scheme not in ("http", "https") or not target.host:
            raise RemoteFileError("A file URL must start with http:// or https:// and name a host.")
        address = await resolve(target.host)
        async with (
            httpx.AsyncClient(transport=_PinnedTransport(address), timeout=30.0) as client,
            client.stream("GET", target) as response,
        ):
            if response.is_redirect and "location" in response.headers:
                url = str(target.join(response.headers["location"]))
                continue
            if response.status_code != 200:
                raise RemoteFileError(f"The file's server answered {response.status_code} instead of the file.")
            return await _save(response, _file_name(target, response), policy)
    raise RemoteFileError(f"The file's URL redirected more than {MAX_REDIRECTS} times.")


def _file_name(url: httpx.URL, response: httpx.Response) -> str:
    """A safe file name from the URL's last segment, with an extension from the content type if needed."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", unquote(url.path.rsplit("/", 1)[-1]))[-100:].lstrip(".") or "file"
    if Path(name).suffix.lower() not in VIDEO_EXTENSIONS + IMAGE_EXTENSIONS:
        kind = response.headers.get("content-type", "").split(";")[0].strip()
        name += mimetypes.guess_extension(kind) or ""
    return name


async def _save(response: httpx.Response, name: str, policy: RemoteFiles) -> str:
    too_big = RemoteFileError(f"The file is larger than this demo accepts ({policy.max_bytes / 2**20:,.0f} MB).")
    if int(response.headers.get("content-length") or 0) > policy.max_bytes:
        raise too_big
    folder = Path(policy.folder) / FETCHED_DIR / new_id()
    folder.mkdir(parents=True)
    path, size = folder / name, 0
    try:
        with open(path, "wb") as out:
            async for chunk in response.aiter_bytes(CHUNK):
                size += len(chunk)
                if size > policy.max_bytes:
                    raise too_big
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        os.rmdir(folder)
        raise
    return str(path)
