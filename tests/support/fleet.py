"""The demo as a fleet on 127.0.0.1: page processes (`python app.py --backend vllm`) behind Debian's
nginx with sticky sessions, for tests_vllm/test_fleet.py and docs/deployment.md's example."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.vllm_server import free_port, stop_group, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
VISITOR_COOKIE = "llava_visitor"


def nginx_config(listen: int, pages: list[int], prefix: Path) -> str:
    """nginx in front of the page processes: each visitor's requests go to one of them, by a cookie
    nginx sets on the first response (a random id) and hashes after; gradio keeps a visitor's state
    in the process that served the page. Server-sent events pass unbuffered."""
    servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" for port in pages)
    return f"""worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    map $cookie_{VISITOR_COOKIE} $visitor {{
        ""      $request_id;
        default $cookie_{VISITOR_COOKIE};
    }}
    upstream pages {{
        hash $visitor consistent;
{servers}
    }}
    server {{
        listen 127.0.0.1:{listen};
        client_max_body_size 0;  # the app bounds uploads itself (--max-file-mb)
        location / {{
            add_header Set-Cookie "{VISITOR_COOKIE}=$visitor; Path=/; HttpOnly; SameSite=Lax" always;
            proxy_pass http://pages;
            proxy_http_version 1.1;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 3600s;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;  # overwritten: a client's own is never passed on
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $http_connection;
        }}
    }}
}}
"""


@dataclass
class Process:
    """A started process of the fleet: where it answers, and its log."""

    process: subprocess.Popen
    url: str
    log_path: Path

    def stop(self, sig: int = signal.SIGTERM) -> None:
        stop_group(self.process, sig, wait_s=15)


@contextmanager
def page_processes(server_url: str, count: int, log_dir: Path, *flags: str) -> Iterator[list[Process]]:
    """`count` page processes, `python app.py --backend vllm --server-url server_url`, stopped after."""
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "LLAVA_SERVER_API_KEY": ""}
    pages = []
    try:
        for i in range(count):
            port, log_path = free_port(), log_dir / f"page-{i}.log"
            command = [sys.executable, "app.py", "--backend", "vllm", "--server-url", server_url]
            command += ["--host", "127.0.0.1", "--port", str(port), "--trusted-proxies", "127.0.0.1"]
            # nginx sets X-Forwarded-For, but every test visitor comes from 127.0.0.1 all the same
            command += ["--jobs-per-address", "64", *flags]
            with open(log_path, "wb") as log:
                process = subprocess.Popen(
                    command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            pages.append(Process(process, f"http://127.0.0.1:{port}", log_path))
        for page in pages:
            wait_until_up(page.process, page.url + "/config", page.log_path, "a page process", 120)
        yield pages
    finally:
        for page in pages:
            page.stop()


@contextmanager
def nginx(pages: list[Process], folder: Path) -> Iterator[Process]:
    """Debian's nginx (apt-get install nginx) on a free loopback port in front of `pages`."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = folder / "nginx.conf"
    text = nginx_config(port, [int(p.url.rsplit(":", 1)[1]) for p in pages], folder)
    # run as root (a CI container), its workers would be nobody, who cannot write this test's folder
    config.write_text(("user root;\n" if os.geteuid() == 0 else "") + text)
    log_path = folder / "nginx.out"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [binary, "-p", str(folder), "-c", str(config), "-g", "daemon off;"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started = Process(process, f"http://127.0.0.1:{port}", log_path)
    try:
        wait_until_up(process, started.url + "/config", log_path, "nginx", 30)
        yield started
    finally:
        started.stop(signal.SIGQUIT)
