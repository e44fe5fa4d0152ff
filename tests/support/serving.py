"""Launching the app on 127.0.0.1 for tests, with the tiny checkpoint's engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from gradio.utils import get_upload_folder

from model.engines.kv_cache import CacheStore
from model.engines.transformers_engine import TransformersEngine
from model.settings import AppSettings


def cached_engine(loaded, total_bytes: int = 1 << 28) -> TransformersEngine:
    """An engine with per-session caches, as `python app.py` runs it."""
    return TransformersEngine(loaded, CacheStore(total_bytes, min(total_bytes, 1 << 26)))


@contextmanager
def serve(
    engine,
    settings: AppSettings | None = None,
    *,
    queue_size: int = 16,
    concurrency: int = 1,
    max_file_size: str = "20mb",
) -> Iterator[str]:
    """The app launched on a free local port; yields its URL and closes it afterwards."""
    with serve_demo(engine, settings, queue_size=queue_size, concurrency=concurrency, max_file_size=max_file_size) as (
        url,
        _demo,
    ):
        yield url


@contextmanager
def serve_demo(
    engine,
    settings: AppSettings | None = None,
    *,
    queue_size: int = 16,
    concurrency: int = 1,
    max_file_size: str = "20mb",
) -> Iterator[tuple[str, object]]:
    """As `serve`, yielding (URL, the page's AppContext) so a test can look at server-side state."""
    import app
    from ui.context import AppContext

    settings = settings or AppSettings(model="tiny", frames=4, max_new_tokens=2000)
    # every client of a test comes from 127.0.0.1: one address's share of the queue (tests/test_crowd.py
    # tries it on its own server) would make them one visitor
    settings = replace(settings, concurrency=concurrency, jobs_per_address=max(settings.jobs_per_address, 1000))
    ctx = AppContext.create(engine, settings, (get_upload_folder(), str(app.ASSETS)))
    demo = app.build_demo(engine, settings, ctx)
    demo.queue(default_concurrency_limit=concurrency, max_size=queue_size)
    app.trust_proxies(settings.trusted_proxies)
    demo.launch(
        server_name="127.0.0.1",
        prevent_thread_lock=True,
        quiet=True,
        ssr_mode=False,
        show_error=True,
        max_file_size=max_file_size,
        **app.page_look(),
        run_history=False,
        app_kwargs={"middleware": app.guard_middleware(settings, demo, ctx)},
        mcp_server=settings.mcp,
    )
    try:
        yield demo.local_url.rstrip("/"), ctx
    finally:
        demo.close()
