"""Long uptime: conversations, caches, frame images and uploads are given back after their TTLs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from gradio_client import Client

from model.serving.storage import frames_root
from model.settings import AppSettings
from tests.support.client import chat, strips
from tests.support.serving import cached_engine, serve


def test_a_vanished_visitor_leaves_nothing_behind(loaded_tiny, video_path, wait_until):
    engine = cached_engine(loaded_tiny)
    settings = AppSettings(model="tiny", frames=4, max_new_tokens=64, session_ttl=2, file_ttl=2)
    with serve(engine, settings) as url:
        client = Client(url, verbose=False, download_files=False)
        history, _ = chat(client, "What happens?", [video_path])
        upload = next(
            Path(p["file"]["path"])
            for m in history
            if m["role"] == "user"
            for p in m["content"]
            if isinstance(p, dict) and "file" in p
        )
        image = Path(unquote(strips(history)[0][1][0][0].split("file=", 1)[1]))  # <root>/<conversation>/<item>/frame
        session_frames = image.parent.parent
        assert session_frames.parent == frames_root() and client.session_hash not in str(session_frames)
        assert upload.exists() and session_frames.exists() and len(engine.cache) == 1
        del client  # the visitor goes away without closing anything
        assert wait_until(lambda: len(engine.cache) == 0 and not session_frames.exists(), 20)
        assert wait_until(lambda: not upload.exists(), 20)
        assert engine.cache.nbytes() == 0
