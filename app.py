"""Chat with videos and images through LLaVA-NeXT-Video: the command line and the page's composition.

The page's parts live in `ui/` (layout, handlers, wiring), the work in `model/`
(media → conversation → engine).
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and {"-h", "--help"} & set(sys.argv[1:]):  # the help, before anything heavy loads
    from model.settings import build_parser

    build_parser().print_help()
    sys.exit(0)

import spaces  # noqa: F401  - must come before anything touches CUDA on ZeroGPU

# isort: split

import logging
import os
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder
from starlette.middleware import Middleware

from model.chat.conversation import Conversation
from model.engines.base import Engine
from model.media.formats import VIDEO_EXTENSIONS
from model.serving.guard import Guard, GuardLimits
from model.serving.logs import guard_logs
from model.serving.memory import return_big_buffers
from model.settings import AppSettings, parse_settings
from ui.context import AppContext
from ui.examples import ASSETS, EXAMPLES
from ui.gradio_internals import job_counter
from ui.janitor import start_file_janitor
from ui.layout import Page, chat_column, header, side_column
from ui.player import PLAYER_JS as JS
from ui.style import page_css, theme
from ui.wiring import wire_page

log = logging.getLogger("app")


def build_demo(engine: Engine, settings: AppSettings, ctx: AppContext | None = None) -> gr.Blocks:
    """The whole page, wired to `engine`; `ctx` is built here unless given (tests observe through it)."""
    # Only files uploaded through gradio (its upload folder) and the examples may be read.
    ctx = ctx or AppContext.create(engine, settings, (get_upload_folder(), str(ASSETS)))
    examples = [e for e in EXAMPLES if ctx.support.images or Path(e["files"][0]).suffix in VIDEO_EXTENSIONS]
    with gr.Blocks(title="LLaVA-NeXT-Video chat", fill_width=True) as demo:
        header(ctx)
        conv = gr.State(Conversation(), time_to_live=settings.session_ttl, delete_callback=ctx.state_callback())
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=320):
                chat = chat_column(ctx, examples)
            with gr.Column(scale=1, min_width=260):
                side, scan, video, answer = side_column(ctx)
        page = Page(conv, chat, side, scan, video, answer)
        wire_page(demo, page, ctx)
    start_file_janitor(
        demo,
        every_s=max(1, min(60, settings.file_ttl // 2)),
        older_than_s=settings.file_ttl,
        conversations_s=settings.session_ttl + 600,
    )
    return demo


def main(argv: list[str] | None = None) -> None:
    """Parse flags, set up the backend and serve the page."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = parse_settings(argv)
    return_big_buffers()  # a decoded 40-megapixel upload must not stay with the process once freed
    guard_logs()  # failures are logged by type and place, never with what a request sent
    engine = vllm_engine(settings) if settings.backend == "vllm" else transformers_engine(settings)
    ctx = AppContext.create(engine, settings, (get_upload_folder(), str(ASSETS)))
    demo = build_demo(engine, settings, ctx)
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    trust_proxies(settings.trusted_proxies)
    scheme = "https" if settings.ssl_certfile else "http"
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    log.info(
        "serving the page at %s://%s:%d%s",
        scheme,
        shown,
        settings.port,
        " (and MCP at /gradio_api/mcp/)" * settings.mcp,
    )
    demo.launch(
        quiet=True,  # gradio's own lines would end with advice to set share=True, which this demo never does
        server_name=settings.host,
        server_port=settings.port,
        ssr_mode=False,
        show_error=True,
        max_file_size=f"{settings.max_file_mb}mb",
        allowed_paths=[str(ASSETS)],
        **page_look(),
        run_history=False,  # no visitor's questions or files are kept by the server
        ssl_certfile=settings.ssl_certfile,
        ssl_keyfile=settings.ssl_keyfile,
        ssl_verify=False,  # https for cameras; a self-signed certificate passes the start-up check
        app_kwargs={"middleware": guard_middleware(settings, demo, ctx)},
        mcp_server=settings.mcp,
    )


def page_look() -> dict:
    """launch()'s theme, CSS and script: how the page looks and what its script does."""
    return {"theme": theme(), "css": page_css(on_spaces=bool(os.environ.get("SPACE_ID"))), "js": JS}


def guard_middleware(settings: AppSettings, demo: gr.Blocks, ctx: AppContext) -> list[Middleware]:
    """The HTTP guard in front of gradio: CSP, body size, each visitor's share of the queue, upload
    rate and disk, no fetches of URLs (model/serving/guard.py)."""
    return [
        Middleware(
            Guard,
            limits=GuardLimits(
                upload_dir=get_upload_folder(),
                uploads_per_minute=settings.uploads_per_minute,
                uploads_bytes=int(settings.uploads_gb * 2**30),
                jobs_per_visitor=settings.jobs_per_visitor,
                jobs_per_address=settings.jobs_per_address,
                upload_window_s=settings.file_ttl,
            ),
            jobs=job_counter(demo, ctx.stamp),
            stamp=ctx.stamp,
        )
    ]


def trust_proxies(addresses: str) -> None:
    """Believe X-Forwarded-For from these proxies only (uvicorn reads FORWARDED_ALLOW_IPS when gradio
    starts it; by default it believes anything that connects from 127.0.0.1, a proxy or not)."""
    os.environ["FORWARDED_ALLOW_IPS"] = addresses


def transformers_engine(settings: AppSettings) -> Engine:
    """Load the model into this process (exits with a readable error when it cannot)."""
    from model.engines.kv_cache import CacheStore
    from model.engines.loading import LoadError, load_model
    from model.engines.transformers_engine import TransformersEngine
    from model.engines.zerogpu import on_zero_gpu

    try:
        loaded = load_model(settings)
    except LoadError as exc:
        sys.exit(f"error: {exc}")
    log.info("serving %s", loaded.description)
    if loaded.notice:
        log.warning(loaded.notice)
    gib = 0 if on_zero_gpu() else settings.cache_gb  # ZeroGPU keeps no state between GPU calls
    cache = CacheStore(total_bytes=int(gib * 2**30), session_bytes=int(min(gib, 3.0) * 2**30))
    return TransformersEngine(loaded, cache)


def vllm_engine(settings: AppSettings) -> Engine:
    """Talk to a vLLM server; a server that is not up yet is logged, and the page starts anyway."""
    from model.engines.vllm_engine import ServerConfig, VLLMEngine

    engine = VLLMEngine(
        ServerConfig(
            url=settings.server_url,
            model=settings.served_model_name,
            api_key=settings.server_api_key,
            timeout_s=settings.server_timeout,
            max_frames=settings.server_frames,
        )
    )
    problem = engine.check_server()
    if problem:
        log.warning("the vLLM server does not answer yet (%s); questions fail until it does", problem)
    log.info("serving %s", engine.description)
    return engine


if __name__ == "__main__":
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    main()
