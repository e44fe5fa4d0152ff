"""Driving the page's own steps through gradio_client, as the page does, and reading the chat back."""

from __future__ import annotations

import asyncio
import re
from html import unescape

from gradio_client import Client, handle_file

# The page's other options as it starts: frames spread over the video (else one every 2 s), answers
# from a scan when there is one, no time written into the frames.
LATER_OPTIONS = ("Spread over the video", 2.0, True, False)


def send(
    client: Client, text: str, files=(), frames: int = 4, start: str = "", end: str = "", frame_times: bool = False
):
    """The page's first step: validate, sample frames, add the user's turn."""
    message = {"text": text, "files": [handle_file(str(f)) for f in files]}
    return client.predict(message, frames, False, start, end, frame_times, *LATER_OPTIONS, api_name="/send")


def chat(client: Client, text: str, files=(), frames: int = 4, max_new_tokens: int = 24, **options):
    """Send one chat message the way the page does (send, then answer); returns the chat and the updates."""
    send(client, text, files, frames, **options)
    job = client.submit(max_new_tokens, 0.0, 0.9, api_name="/answer")
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
    job = client.submit(
        message, frames, False, "", "", False, "Spread over the video", 2.0, True, False, api_name="/send"
    )
    _box, history, *_frames_panel = job.result(timeout=60)
    return history, warnings_of(job)
