"""Driving the page's own steps through gradio_client, as the page does, and reading the chat back."""

from __future__ import annotations

import asyncio
import re
from html import unescape

import httpx
from gradio_client import Client, handle_file


def by_name(client: Client, api_name: str, **values) -> list:
    """A page step's values in the order its event takes them, given by name (the handlers take the
    settings by name too); a value left out is the component's own as the page starts. gradio_client
    knows no names for the page's undocumented steps, so they come from the app's full API info."""
    info = httpx.get(f"{client.src.rstrip('/')}/gradio_api/info", params={"all_endpoints": "true"}).json()
    parameters = info["named_endpoints"][api_name]["parameters"]
    unknown = set(values) - {p["parameter_name"] for p in parameters}
    assert not unknown, f"{api_name} takes no {sorted(unknown)}"
    return [values.get(p["parameter_name"], p.get("parameter_default")) for p in parameters]


def step(client: Client, api_name: str, **values):
    """Start one of the page's steps (/send, /answer) with its values by name; returns the job."""
    return client.submit(*by_name(client, api_name, **values), api_name=api_name)


def instant(client: Client, api_name: str, **values):
    """Run one of the page's instant steps (Stop, Undo, Clear: `queue=False`) the way the page does,
    posting to gradio's direct route with the client's session, outside the queue (where
    gradio_client would put it, behind whatever the queue holds); returns its outputs."""
    src, name = client.src.rstrip("/"), api_name.strip("/")
    config = httpx.get(f"{src}/config").json()
    kinds = {c["id"]: c["type"] for c in config["components"]}
    inputs = next(d["inputs"] for d in config["dependencies"] if d.get("api_name") == name)
    given = iter(by_name(client, api_name, **values))
    data = [None if kinds[i] == "state" else next(given) for i in inputs]  # the server holds the state
    response = httpx.post(
        f"{src}/gradio_api/run/{name}", json={"data": data, "session_hash": client.session_hash}, timeout=30
    )
    response.raise_for_status()
    return response.json()["data"]


def send(
    client: Client, text: str, files=(), frames: int = 4, start: str = "", end: str = "", frame_times: bool = False
):
    """The page's first step: validate, sample frames, add the user's turn."""
    message = {"text": text, "files": [handle_file(str(f)) for f in files]}
    return step(client, "/send", message=message, frames=frames, start=start, end=end, frame_times=frame_times).result()


def chat(client: Client, text: str, files=(), frames: int = 4, max_new_tokens: int = 24, **options):
    """Send one chat message the way the page does (send, then answer); returns the chat and the updates."""
    send(client, text, files, frames, **options)
    job = step(client, "/answer", max_new_tokens=max_new_tokens, temperature=0.0)
    updates = list(job)
    return job.result(), updates


def bubbles(history, role):
    """Text of each bubble of `role`; a file bubble reads as its path."""
    return [
        " ".join(part_text(p) for p in (m["content"] if isinstance(m["content"], list) else [m["content"]]))
        for m in history
        if m["role"] == role
    ]


def answers(history):
    """The assistant's text bubbles (frame strips left out), times read as plain text (not links)."""
    return [
        re.sub(r"\[([^\]]+)\]\(#t=[\d.]+\)", r"\1", b)
        for b in bubbles(history, "assistant")
        if not b.startswith("[html")
    ]


def strips(history):
    """(label, [(image URL, caption), ...]) of each frames strip in the chat."""
    out = []
    for m in history:
        for part in m["content"] if isinstance(m["content"], list) else [m["content"]]:
            if isinstance(part, dict) and part.get("component") == "html" and "frame-strip" in part["value"]:
                html = part["value"]
                label = unescape(re.search(r'<div class="strip-label">(.*?)</div>', html).group(1))
                items = [
                    (unescape(src), unescape(time))
                    for src, time in re.findall(r'<img src="([^"]+)".*?<figcaption>(.*?)</figcaption>', html)
                ]
                out.append((label, items))
    return out


def part_text(part) -> str:
    if isinstance(part, str):
        return part
    if part.get("type") == "text":
        return part["text"]
    if part.get("type") == "component" or "component" in part:
        return f"[{part['component']}: {part['props'].get('label', '')}]"
    file = part.get("file", part)
    return str(file.get("path", ""))


def warnings_of(job) -> list[str]:
    """The gr.Warning/gr.Info texts a finished job received (they travel as 'log' messages)."""
    texts = []
    while True:
        try:
            update = job.communicator.updates.get_nowait()
        except asyncio.QueueEmpty:
            return texts
        log = getattr(update, "log", None)
        if log:
            texts.append(log[0])


def send_with_warnings(client: Client, text: str, files=(), frames: int = 4) -> tuple[list[dict], list[str]]:
    """The page's first step (/send); returns the chat and the warnings shown."""
    message = {"text": text, "files": [handle_file(str(f)) for f in files]}
    job = step(client, "/send", message=message, frames=frames)
    _box, history, *_side = job.result(timeout=60)
    return history, warnings_of(job)
