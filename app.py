"""Chat with videos and images through LLaVA-NeXT-Video: the Gradio page and `python app.py`.

Layout and event wiring only; the work happens in `model/` (media → conversation → engine).
"""

from __future__ import annotations

import spaces  # noqa: F401  - must come before anything touches CUDA on ZeroGPU

# isort: split

import logging
import os
import sys
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder
from starlette.middleware import Middleware

from model.camera.frames import CameraLimits, CameraStore
from model.chat.conversation import Conversation, attached_files, latest_video
from model.chat.turns import (
    ChatLimits,
    MediaOptions,
    UserInputError,
    clip_range,
    mark_stopped,
    read_files,
    release_media,
    resample_latest,
    retry_last,
    start_session,
    start_turn,
    stream_answer,
    undo_last,
    validate_message,
)
from model.engines.base import Engine, GenerationParams
from model.engines.gate import ModelGate, gated_describe, queued
from model.engines.gpu import describe_for, generate_for, set_engine
from model.engines.loading import on_zero_gpu
from model.media.decode import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from model.scan.runner import ScanOptions, answer_from_timeline, run_scan, scan_gpu_cost, stop_scan
from model.scan.segments import MAX_SEGMENT_S, MIN_SEGMENT_S, SEGMENT_S, ScanProgress, TimelineStore, segment_bounds
from model.serving.guard import Guard, GuardLimits
from model.serving.janitor import start_file_janitor
from model.serving.ledger import MediaLedger
from model.serving.logs import guard_logs
from model.serving.memory import return_big_buffers
from model.serving.sessions import Tabs, request_tab
from model.serving.storage import remove_conversation
from model.settings import AppSettings, parse_settings
from ui.api import wire_api
from ui.camera import add_live_clip, camera_panel, live_clip, question_text, wire_camera
from ui.chat_view import render_chat
from ui.controls import busy_box, idle_box
from ui.export import export_buttons, lock_exports, refresh_exports
from ui.panels import ABOUT, EMPTY_TITLE, frames_panel, upload_limits
from ui.player import PLAYER_JS as JS
from ui.scan import timeline_for, timeline_html
from ui.style import CSS

log = logging.getLogger("app")
ASSETS = Path(__file__).parent / "assets"
SPREAD, EVERY = "Spread over the video", "One every N seconds"
RELOAD = "This page's session is not valid; please reload the page."
KEEP_PANEL = (gr.skip(),) * 5  # the side panel (player, its note, frames' title, frames, timeline) unchanged

EXAMPLES = [
    {"text": "What does the ball do?", "files": [str(ASSETS / "bouncing_ball.mp4")]},
    {"text": "Describe the traffic light's colours in order.", "files": [str(ASSETS / "traffic_light.mp4")]},
    {"text": "What time does the clock show at the end?", "files": [str(ASSETS / "clock.mp4")]},
    {"text": "What is in this picture?", "files": [str(ASSETS / "shapes.png")]},
    {"text": "Which day had the most visitors?", "files": [str(ASSETS / "chart.png")]},
]


def build_demo(engine: Engine, settings: AppSettings) -> gr.Blocks:
    """The whole page, wired to `engine`."""
    set_engine(engine)
    gate = ModelGate(settings.concurrency)  # turns at the model: answers and scan batches, first come first served
    generate = queued(generate_for(engine), gate)
    describe = gated_describe(describe_for(engine), gate)
    timelines = TimelineStore()  # finished scans by video content: the same video is scanned once
    support = engine.media_support
    # Only files uploaded through gradio (its upload folder) and the examples may be read.
    limits = ChatLimits.for_backend(support, settings.max_frames, (get_upload_folder(), str(ASSETS)))
    file_types = [*VIDEO_EXTENSIONS, *(IMAGE_EXTENSIONS if support.images else ())]
    examples = [e for e in EXAMPLES if support.images or Path(e["files"][0]).suffix in VIDEO_EXTENSIONS]
    cameras = CameraStore(
        seconds=settings.camera_seconds,
        limits=CameraLimits(  # every tab's last seconds of camera
            settings.camera_time_limit, settings.camera_idle
        ),
    )
    tabs = Tabs()  # the conversations each tab opened, freed when it closes
    ledger = MediaLedger(int(settings.media_gb * 2**30))  # decoded media of all conversations, under one budget

    def submit(
        message: dict | None,
        conv: Conversation,
        frames: int,
        exact: bool,
        start: str,
        end: str,
        frame_times: bool,
        pick: str = SPREAD,
        every: float | None = None,
        from_scan: bool = True,
        stamp: bool = False,
        request: gr.Request = None,
    ):
        """Validate the message, show it at once, then sample its media (Stop ends the sampling)."""
        message = message or {}
        if crafted_session(request):
            yield gr.skip(), gr.skip(), conv, *KEEP_PANEL
            return
        start_session(conv, request_tab(request), tabs)
        camera = live_clip(cameras, request, min(int(frames), limits.max_frames))  # None: no camera runs
        try:
            text, files = validate_message(
                question_text(message.get("text"), camera), message.get("files"), conv, limits
            )
            clip_start, clip_end = clip_range(start, end)
        except UserInputError as exc:
            gr.Warning(str(exc))
            yield gr.skip(), render_chat(conv), conv, *KEEP_PANEL
            return
        every_s = float(every or 0) if pick == EVERY else None
        if every_s is not None and not 0 < every_s < 1e6:  # 0, negative or NaN: said here, not by gradio
            gr.Warning("The seconds between frames must be more than 0.")
            yield gr.skip(), render_chat(conv), conv, *KEEP_PANEL
            return
        options = MediaOptions(
            frames=max(1, min(int(frames), limits.max_frames)),
            exact_frames=bool(exact),
            start=clip_start,
            end=clip_end,
            frame_times=bool(frame_times),
            every_s=every_s,
            stamp_times=bool(stamp),
        )
        files, resampled = resample_latest(conv, files, options) if camera is None else (files, None)
        turn = start_turn(conv, text, files, options)
        turn.notes.extend(note for note in (ledger.take_notice(conv), resampled) if note)
        add_live_clip(conv, turn, camera, engine)
        for _ in read_files(conv, turn, options):
            yield busy_box(value=None), render_chat(conv), conv, *KEEP_PANEL
        ledger.note(conv)
        if not files and camera is None and from_scan and turn.status == "pending":
            answer_from_timeline(conv, turn, options.frames, with_frames=support.max_videos != 1)
        yield (busy_box(value=None), render_chat(conv), conv, *frames_panel(conv))

    def scan_newest(conv: Conversation, segment_s: float, request: gr.Request = None):
        """Describe every part of the newest video into its timeline (Stop keeps the part done)."""
        if crafted_session(request):
            yield gr.skip(), gr.skip(), conv
            return
        start_session(conv, request_tab(request), tabs)
        video = latest_video(conv)
        if video is None or (conv.last is not None and conv.last.status == "pending"):
            gr.Warning(
                "Send a video first: the scan describes the newest video in the chat."
                if video is None
                else "Wait for the answer to finish, then scan."
            )
            yield gr.skip(), gr.skip(), conv
            return
        options = ScanOptions(segment_s=float(segment_s or SEGMENT_S)).bounded(
            settings.scan_max_frames, settings.scan_max_tokens
        )
        batch = engine.scan_batch(options.frames_per_segment, options.max_new_tokens)
        cost = scan_gpu_cost(video.clip.duration, options, batch) if on_zero_gpu() else ""
        parts = len(segment_bounds(video.clip.duration, options.segment_s))
        yield timeline_html(video.name, ScanProgress(total=parts, duration=video.clip.duration), cost), busy_box(), conv
        for item, progress in run_scan(conv, describe, timelines, engine.description, options, batch):
            yield timeline_html(item.name, progress, cost), busy_box(), conv
        yield timeline_for(conv), idle_box(), conv

    def answer(conv: Conversation, max_new_tokens: int, temperature: float, top_p: float):
        """Stream the answer to the last turn into the chat."""
        params = GenerationParams(
            max_new_tokens=min(int(max_new_tokens), settings.max_new_tokens),
            temperature=float(temperature),
            top_p=float(top_p),
        )
        yield render_chat(conv), conv
        for _ in stream_answer(conv, params, engine, generate):
            yield render_chat(conv), conv

    def stop(conv: Conversation) -> None:
        """Mark what runs as stopped; its own stream ends at its next step and renders the final state."""
        mark_stopped(conv)
        stop_scan(conv)

    def retry(conv: Conversation):
        """Clear the last answer and lock the input, as a new question does."""
        if conv.last is not None and conv.last.status == "pending":
            return gr.skip(), conv, gr.skip()  # an answer is being written: let it finish or be stopped
        if not retry_last(conv):
            gr.Warning("There is no answer to retry.")
            return render_chat(conv), conv, gr.skip()
        return render_chat(conv), conv, busy_box()

    def undo(conv: Conversation):
        files = attached_files(conv, conv.last) if conv.last else []
        turn = undo_last(conv)
        restored = {"text": turn.text, "files": files} if turn else None
        return (render_chat(conv), conv, idle_box(value=restored), *frames_panel(conv))

    def clear(conv: Conversation):
        forget_conversation(conv)
        return [], Conversation(), *frames_panel(Conversation())

    def forget_conversation(conv: Conversation) -> None:
        release_media(conv)
        if conv.session_id:
            engine.forget(conv.session_id)
            tabs.discard(conv.session_id)
            ledger.forget(conv.session_id)

    def tab_closed(request: gr.Request) -> None:
        """A closed tab: free its conversations' caches and files now, not when its state expires.
        Only what this app noted under the tab is touched (the session hash is a key, never a path)."""
        for conv_id in tabs.close(request_tab(request)):
            engine.forget(conv_id)
            ledger.forget(conv_id)
            remove_conversation(conv_id)

    def unlock():
        return idle_box()

    def exports_for(conv: Conversation, frames: int, max_new_tokens: int, temperature: float, top_p: float):
        """The download buttons' files for the conversation as it stands."""
        return refresh_exports(
            conv,
            engine.description,
            {
                "frames per video": int(frames),
                "max new tokens": int(max_new_tokens),
                "temperature": float(temperature),
                "top-p": float(top_p),
            },
        )

    with gr.Blocks(title="LLaVA-NeXT-Video chat", fill_width=True) as demo:
        gr.Markdown(
            f"## Chat with videos and images · LLaVA-NeXT-Video\n<sub>Running **{engine.description}** · {ABOUT}</sub>"
        )
        if engine.notice:
            gr.Markdown(f"⚠️ **{engine.notice}**", elem_id="notice")
        if support.summary():
            gr.Markdown(f"ℹ️ This model server takes {support.summary()}.", elem_id="limits")
        conv = gr.State(Conversation(), time_to_live=settings.session_ttl, delete_callback=forget_conversation)
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=320):
                chatbot = gr.Chatbot(
                    label="Chat",
                    height="min(560px, 56vh)",
                    buttons=["copy"],
                    show_label=False,
                    elem_id="chat",
                    placeholder=f"Upload {'a video or an image' if support.images else 'a video'}, "
                    "then ask about it. Follow-up questions keep the same media.",
                )
                textbox = gr.MultimodalTextbox(
                    file_types=file_types,
                    file_count="multiple",
                    placeholder=("Ask about a video or image" if support.images else "Ask about a video")
                    + " (attach with the clip icon)…",
                    show_label=False,
                    stop_btn=False,
                    sources=["upload"],
                    max_plain_text_length=4000,
                    elem_id="question",
                )
                gr.Markdown(upload_limits(limits, settings.max_file_mb, support.images), elem_id="upload-limits")
                export_page, export_data = export_buttons()
                camera_ui = camera_panel(settings.camera_seconds, settings.commentary_every, settings.camera_time_limit)
                gr.Examples(examples=examples, inputs=textbox, label="Examples")
            with gr.Column(scale=1, min_width=260):
                player = gr.Video(
                    label="The newest video",
                    interactive=False,
                    visible=False,
                    elem_id="player",
                    buttons=["download"],
                    autoplay=False,
                )
                player_note = gr.Markdown(visible=False, elem_id="player-note")
                frames_title = gr.Markdown(EMPTY_TITLE, elem_id="frames-title")
                frames_view = gr.Gallery(
                    show_label=False,
                    columns=2,
                    height="auto",
                    object_fit="contain",
                    allow_preview=True,
                    elem_id="frames",
                    buttons=["fullscreen"],
                    visible=False,
                )  # shown with the first video's frames
                with gr.Accordion("Whole video", open=True, elem_id="whole-video"):
                    timeline_view = gr.HTML(timeline_for(Conversation()), elem_id="timeline")
                    with gr.Row():
                        scan_button = gr.Button("Scan the newest video", size="sm", elem_id="scan", scale=2)
                        segment_s = gr.Number(
                            SEGMENT_S,
                            label="Seconds a part",
                            elem_id="segment-s",
                            scale=1,
                            min_width=90,
                            info=f"{MIN_SEGMENT_S:g} to {MAX_SEGMENT_S:g}",
                        )
                    from_scan = gr.Checkbox(
                        True,
                        label="Answer follow-ups from the scan",
                        elem_id="from-scan",
                        info="The timeline, and the frames of the parts that fit the question.",
                    )
                with gr.Accordion("Video", open=True):
                    frames = gr.Slider(
                        1,
                        limits.max_frames,
                        value=min(settings.frames, limits.max_frames),
                        step=1,
                        label="Frames per video",
                        elem_id="frames-per-video",
                        info=f"1 to {limits.max_frames}. More frames see more, but cost time and context.",
                    )
                    pick = gr.Radio([SPREAD, EVERY], value=SPREAD, label="How frames are picked", elem_id="pick")
                    every = gr.Number(
                        2.0,
                        label="Seconds between frames",
                        visible=False,  # checked by submit
                        elem_id="every-s",
                        info="Up to the frames per video above.",
                    )
                    with gr.Row():
                        clip_start = gr.Textbox(
                            label="Clip start", placeholder="0:00", min_width=90, max_lines=1, elem_id="clip-start"
                        )
                        clip_end = gr.Textbox(
                            label="Clip end", placeholder="end", min_width=90, max_lines=1, elem_id="clip-end"
                        )
                    gr.Markdown(
                        "<sub>Seconds (83.5) or mm:ss (1:23.5). Applies to the next upload; sent "
                        "without a file, it takes new frames of the newest video.</sub>"
                    )
                    exact = gr.Checkbox(
                        False, label="Exact frame times", info="Slower on long videos; default takes a nearby keyframe."
                    )
                    frame_times = gr.Checkbox(
                        False,
                        label="Tell the model the frame times",
                        info="Adds 'frames taken at 0.0 s, 2.1 s, …' to the question.",
                    )
                    stamp = gr.Checkbox(
                        False,
                        label="Write the time on each frame",
                        elem_id="stamp",
                        info="In a corner of the picture the model sees (and the strip shows).",
                    )
                with gr.Accordion("Answer", open=True):
                    max_new = gr.Slider(
                        16,
                        settings.max_new_tokens,
                        value=min(256, settings.max_new_tokens),
                        step=16,
                        label="Max new tokens",
                        elem_id="max-new-tokens",
                    )
                    temperature = gr.Slider(
                        0.0,
                        1.5,
                        value=0.0,
                        step=0.05,
                        label="Temperature",
                        info="0 answers greedily (the same every time).",
                    )
                    top_p = gr.Slider(0.05, 1.0, value=0.9, step=0.05, label="Top-p")

        answer_inputs = [conv, max_new, temperature, top_p]
        # The chat's own steps are callable by programs too (undocumented; /ask is the public API).
        hidden = "undocumented"
        submit_inputs = [textbox, conv, frames, exact, clip_start, clip_end, frame_times, pick, every, from_scan, stamp]
        pick.change(
            lambda choice: gr.Number(visible=choice == EVERY), pick, every, queue=False, api_visibility="private"
        )
        panel = [player, player_note, frames_title, frames_view, timeline_view]
        scanning = scan_button.click(
            scan_newest,
            [conv, segment_s],
            [timeline_view, textbox, conv],
            concurrency_id="scan",
            concurrency_limit=settings.scans,
            api_visibility="private",
            show_progress="hidden",
        )
        submitted = textbox.submit(
            submit,
            submit_inputs,
            [textbox, chatbot, conv, *panel],
            concurrency_id="media",
            concurrency_limit=4,
            api_name="send",
            api_visibility=hidden,
            show_progress="hidden",
        )
        answering = submitted.then(
            answer, answer_inputs, [chatbot, conv], concurrency_id="gpu", api_name="answer", api_visibility=hidden
        )
        exports = [export_page, export_data]
        export_inputs = [conv, frames, max_new, temperature, top_p]
        scanning.then(exports_for, export_inputs, exports, api_visibility="private", queue=False)  # with the timeline
        # Off while a question runs, on again with fresh files once it is answered: never a stale download.
        textbox.submit(lock_exports, None, exports, queue=False, api_visibility="private")
        chatbot.retry(lock_exports, None, exports, queue=False, api_visibility="private")
        answering.then(unlock, None, textbox, api_visibility="private").then(
            exports_for, export_inputs, exports, api_visibility="private", queue=False
        )
        # Stop only marks the turn; what runs (sampling or the answer's stream) ends at its next step
        # and renders the final state itself, in one update (a render from Stop could land before the
        # stream's last one and be overtaken by it).
        textbox.stop(stop, [conv], None, concurrency_limit=None, api_name="stop", api_visibility=hidden, queue=False)
        retried = chatbot.retry(
            retry, [conv], [chatbot, conv, textbox], queue=False, api_name="retry", api_visibility=hidden
        )
        retried.then(answer, answer_inputs, [chatbot, conv], concurrency_id="gpu", api_visibility="private").then(
            unlock, None, textbox, api_visibility="private"
        ).then(exports_for, export_inputs, exports, api_visibility="private", queue=False)
        chatbot.undo(
            undo, [conv], [chatbot, conv, textbox, *panel], queue=False, api_name="undo", api_visibility=hidden
        ).then(exports_for, export_inputs, exports, api_visibility="private", queue=False)
        chatbot.clear(
            clear, [conv], [chatbot, conv, *panel], queue=False, api_name="clear", api_visibility=hidden
        ).then(exports_for, export_inputs, exports, api_visibility="private", queue=False)
        demo.unload(tab_closed)
        commenting = wire_camera(
            demo,
            camera_ui,
            cameras,
            conv=conv,
            chatbot=chatbot,
            textbox=textbox,
            side=panel,
            frames=frames,
            answer_inputs=answer_inputs,
            engine=engine,
            generate=generate,
            tabs=tabs,
            max_new_tokens=settings.max_new_tokens,
            camera_visitors=settings.camera_visitors,
        )
        commenting.then(exports_for, export_inputs, exports, api_visibility="private", queue=False)
        wire_api(engine, settings, limits, generate, describe, timelines)
    demo.cameras = cameras  # for tests and benchmarks
    start_file_janitor(
        demo,
        every_s=max(1, min(60, settings.file_ttl // 2)),
        older_than_s=settings.file_ttl,
        conversations_s=settings.session_ttl + 600,
    )
    return demo


def crafted_session(request: gr.Request | None) -> bool:
    """True (with a warning) for a request whose session hash is not of gradio's making."""
    if request is None or request_tab(request) is not None:
        return False
    gr.Warning(RELOAD)
    return True


def main(argv: list[str] | None = None) -> None:
    """Parse flags, set up the backend and serve the page."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = parse_settings(argv)
    return_big_buffers()  # a decoded 40-megapixel upload must not stay with the process once freed
    guard_logs()  # failures are logged by type and place, never with what a request sent
    engine = vllm_engine(settings) if settings.backend == "vllm" else transformers_engine(settings)
    demo = build_demo(engine, settings)
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        ssr_mode=False,
        show_error=True,
        max_file_size=f"{settings.max_file_mb}mb",
        allowed_paths=[str(ASSETS)],
        theme=gr.themes.Soft(),
        css=CSS,
        js=JS,
        run_history=False,  # no visitor's questions or files are kept by the server
        ssl_certfile=settings.ssl_certfile,
        ssl_keyfile=settings.ssl_keyfile,
        ssl_verify=False,  # https for cameras; a self-signed certificate passes the start-up check
        app_kwargs={"middleware": guard_middleware(settings)},
    )


def guard_middleware(settings: AppSettings) -> list[Middleware]:
    """The HTTP guard in front of gradio: CSP, body size, upload rate and disk (model/serving/guard.py)."""
    return [
        Middleware(
            Guard,
            limits=GuardLimits(
                upload_dir=get_upload_folder(),
                uploads_per_minute=settings.uploads_per_minute,
                uploads_bytes=int(settings.uploads_gb * 2**30),
            ),
        )
    ]


def transformers_engine(settings: AppSettings) -> Engine:
    """Load the model into this process (exits with a readable error when it cannot)."""
    from model.engines.kv_cache import CacheStore
    from model.engines.loading import LoadError, load_model, on_zero_gpu
    from model.engines.transformers_engine import TransformersEngine

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
