"""Files named by URL (model/media/remote.py): the app's own files in place, public URLs fetched
within bounds, nothing else. A local HTTP server stands in for the internet: the tests' resolver
calls its name public (the real one never would)."""

from __future__ import annotations

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from model.media.remote import RemoteFileError, RemoteFiles, is_public, own_file, public_address, resolve_url

PUBLIC = "files.example"  # the name the tests' resolver lets through


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        routes = {
            "/clip.mp4": lambda: self._send(200, b"x" * 1000, "video/mp4"),
            "/video": lambda: self._send(200, b"x" * 1000, "video/webm"),
            "/big.mp4": lambda: self._send(200, b"x" * 5000, "video/mp4"),
            "/endless.mp4": self._endless,
            "/slow.mp4": self._slow,
            "/missing.mp4": lambda: self._send(404, b"", "text/plain"),
            "/to-private.mp4": lambda: self._redirect("http://private.example/clip.mp4"),
            "/loop.mp4": lambda: self._redirect("/loop.mp4"),
        }
        routes[self.path]()

    def _send(self, status, body, kind):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _endless(self):  # no Content-Length: only counting the bytes can stop it
        self.send_response(200)
        self.end_headers()
        for _ in range(100):
            self.wfile.write(b"x" * 1000)

    def _slow(self):
        self.send_response(200)
        self.end_headers()
        try:
            for _ in range(40):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the app stopped the download, as it should: nothing to print

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://{PUBLIC}:{httpd.server_address[1]}"
    httpd.shutdown()


async def resolver(host: str) -> str:
    if host == PUBLIC:
        return "127.0.0.1"
    return await public_address(host)


def fetch(url: str, tmp_path: Path, **policy) -> str:
    limits = {"roots": (str(tmp_path),), "folder": str(tmp_path), "max_bytes": 2000, **policy}
    return asyncio.run(resolve_url(url, RemoteFiles(**limits), resolver))


def test_public_addresses_only():
    for ip in ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"]:
        assert not is_public(ip), ip
    for ip in ["::1", "fe80::1%eth0", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "ff02::1"]:
        assert not is_public(ip), ip
    assert is_public("8.8.8.8") and is_public("2606:4700:4700::1111")


@pytest.mark.parametrize(
    "ip",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::a00:1",  # a network's own NAT64 prefix
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "::a00:1",  # IPv4-compatible 10.0.0.1
        "::",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:c0a8:1::",  # 6to4 of 192.168.0.1
        "fec0::1",  # site-local
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "100.64.0.1",  # shared address space
        "100.127.255.254",
        "::ffff:100.64.0.1",
    ],
)
def test_ipv6_forms_that_carry_an_ipv4_address_are_judged_by_it(ip):
    """Before: NAT64, IPv4-compatible, 6to4 and site-local addresses counted as public."""
    assert not is_public(ip)


def test_ipv6_forms_of_public_ipv4_addresses_stay_public():
    assert is_public("64:ff9b::808:808") and is_public("2002:808:808::1") and is_public("::ffff:8.8.8.8")


def test_a_public_url_is_fetched_to_the_upload_folder(server, tmp_path):
    path = Path(fetch(f"{server}/clip.mp4", tmp_path))
    assert path.read_bytes() == b"x" * 1000 and path.name == "clip.mp4"
    assert path.is_relative_to(tmp_path)


def test_a_name_without_extension_takes_one_from_the_content_type(server, tmp_path):
    assert Path(fetch(f"{server}/video", tmp_path)).suffix == ".webm"


@pytest.mark.parametrize("name", ["big.mp4", "endless.mp4"])
def test_a_file_past_the_upload_limit_is_stopped_and_removed(server, tmp_path, name):
    with pytest.raises(RemoteFileError, match="larger than"):
        fetch(f"{server}/{name}", tmp_path)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_slow_download_is_stopped_in_time(server, tmp_path):
    began = time.monotonic()
    with pytest.raises(RemoteFileError, match="longer than 1 s"):
        fetch(f"{server}/slow.mp4", tmp_path, timeout_s=1.0)
    assert time.monotonic() - began < 3


def test_redirects_are_checked_again_and_bounded(server, tmp_path):
    with pytest.raises(RemoteFileError, match="not on a public host|does not resolve"):
        fetch(f"{server}/to-private.mp4", tmp_path)
    with pytest.raises(RemoteFileError, match="redirected more than"):
        fetch(f"{server}/loop.mp4", tmp_path)


def test_an_error_status_is_named(server, tmp_path):
    with pytest.raises(RemoteFileError, match="answered 404"):
        fetch(f"{server}/missing.mp4", tmp_path)


def test_private_hosts_are_refused_before_any_connection(tmp_path):
    for url in [
        "http://127.0.0.1:9/a.mp4",
        "http://localhost:9/a.mp4",
        "http://[::1]:9/a.mp4",
        "http://10.0.0.1/a.mp4",
    ]:
        with pytest.raises(RemoteFileError, match="not on a public host"):
            fetch(url, tmp_path)


def test_with_public_urls_off_only_the_apps_own_files_are_taken(server, tmp_path):
    own = tmp_path / "up" / "clip.mp4"
    own.parent.mkdir()
    own.write_bytes(b"v")
    assert fetch(f"http://127.0.0.1:7860/gradio_api/file={own}", tmp_path, fetch_public=False) == str(own)
    with pytest.raises(RemoteFileError, match="upload only"):
        fetch(f"{server}/clip.mp4", tmp_path, fetch_public=False)


def test_the_apps_own_file_urls_are_read_in_place_only_inside_the_roots(tmp_path):
    root, outside = tmp_path / "uploads", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (root / "a b.mp4").write_bytes(b"v")
    (outside / "secret.mp4").write_bytes(b"s")
    (root / "link.mp4").symlink_to(outside / "secret.mp4")
    roots = (str(root),)
    assert own_file(f"http://127.0.0.1:7860/gradio_api/file={root}/a%20b.mp4", roots) == str(root / "a b.mp4")
    assert own_file(f"https://x.hf.space/gradio_api/file={root}/a b.mp4", roots) == str(root / "a b.mp4")
    for path in [f"{root}/../elsewhere/secret.mp4", f"{root}/link.mp4", f"{root}/none.mp4", str(root), "/etc/passwd"]:
        assert own_file(f"http://127.0.0.1:7860/gradio_api/file={path}", roots) is None, path
    assert own_file(f"http://127.0.0.1:7860/file={root}/a b.mp4", roots) is None
