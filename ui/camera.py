"""The live camera panel: the webcam streams small frames to a per-tab ring of the last seconds;
a question typed while it runs is about that window, and live commentary asks on a timer.

Frames have their own concurrency group ("camera"), so they never wait behind answers; the browser
sends the next frame only once the last one was taken, so nothing piles up. The ring is freed when
the camera stops, on Clear, and when the tab closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import gradio as gr

from model.camera.frames import CameraStore, FrameError, decode_frame
from model.camera.live import add_camera_turn, trim_commentary
from model.chat.conversation import Conversation
from model.chat.turns import start_session
from model.engines.answering import stream_answer
from model.media.clip import VideoClip, format_duration
from model.serving.sessions import request_tab
from ui.answer_settings import AnswerChoice
from ui.chat_view import render_chat
from ui.context import AppContext
from ui.controls import busy_box, idle_box
from ui.gradio_internals import cameras_running
from ui.inputs import CameraInput

if TYPE_CHECKING:
    from ui.layout import Page

STREAM_EVERY_S = 0.5  # two frames a second reach the server: 16 frames over the default 8 s
COMMENTARY_TOKENS = 96  # a commentary is a sentence or two
# Ask the browser for a small picture: it scales the camera itself, so frames travel small.
WEBCAM = gr.WebcamOptions(
    mirror=False,  # the model must read text as it is, not mirrored
    constraints={"video": {"width": {"ideal": 448}, "height": {"ideal": 336}, "frameRate": {"ideal": 15}}},
)


@dataclass
class CameraPanel:
    """The panel's components."""

    video: gr.Image
    commentary: gr.Checkbox
    timer: gr.Timer


def camera_panel(seconds: float, every: float, time_limit: float) -> CameraPanel:
    """The collapsible camera panel (placed where it is called, inside the page's layout)."""
    with gr.Accordion("Live camera", open=False, elem_id="camera-panel"):
        gr.Markdown(
            f"<sub>Press **Record**: while it runs, a question is about the last {seconds:g} s of "
            f"your camera, shown as a frame strip. A camera runs up to {format_duration(time_limit)} at a "
            "time. Cameras work on https pages and on localhost.</sub>",
            elem_id="camera-help",
        )
        video = CameraInput(
            sources=["webcam"],
            streaming=True,
            show_label=False,
            elem_id="camera",
            webcam_options=WEBCAM,
            height=260,
            buttons=[],
        )
        commentary = gr.Checkbox(
            False,
            label=f"Live commentary every {every:g} s",
            elem_id="commentary",
            info="While the camera runs, the model says what happens and what changed. Untick to end it; "
            "the question box's Stop ends the comment being written.",
        )
        timer = gr.Timer(every, active=False)
    return CameraPanel(video, commentary, timer)


def camera_key(request: gr.Request | None) -> str:
    """The store's key of this tab's camera ('' without a valid session)."""
    tab = request_tab(request)
    return f"{tab}/camera" if tab else ""


def tab_prefix(request: gr.Request | None) -> str:
    """The prefix of every key of this tab."""
    tab = request_tab(request)
    return f"{tab}/" if tab else ""


def live_clip(store: CameraStore, request: gr.Request | None, frames: int) -> VideoClip | None:
    """The clip of this tab's running camera, or None when it does not run."""
    key = camera_key(request)
    return store.live_clip(key, max(1, int(frames))) if key else None


class CameraHandlers:
    """The panel's handlers, sharing the page's context and its components."""

    def __init__(self, demo: gr.Blocks, ctx: AppContext, page: Page):
        self.demo, self.ctx, self.page, self.store = demo, ctx, page, ctx.cameras

    def may_join(self, payload, commentary_on, request: gr.Request) -> list:
        """Refuse a camera join while every place is taken (a join would wait in the queue every
        visitor shares), or while this tab's camera already streams (one place a visitor)."""
        places = self.ctx.settings.camera_visitors
        if cameras_running(self.demo) >= places:
            message = f"Every camera place is taken ({places} at a time); please try again in a minute."
        elif not self.store.claim(camera_key(request)):
            message = "This tab's camera is already streaming."
        else:
            return [gr.validate(True, ""), gr.validate(True, "")]
        return [gr.validate(False, message), gr.validate(True, "")]

    def frame_in(self, payload: dict | None, commentary_on: bool, request: gr.Request):
        """Keep one frame; the camera's first frame starts the commentary timer when it is on."""
        key = camera_key(request)
        if payload is None or not key:
            return gr.skip()
        try:
            if not self.store.admit(key):
                return gr.skip()  # sooner than the ring keeps frames: not even decoded
            frame = decode_frame(payload.get("url") if isinstance(payload, dict) else None)
        except FrameError as exc:
            raise gr.Error(
                f"{exc} The camera stopped; press Record to start it again.", print_exception=False
            ) from None
        first = key not in self.store
        self.store.add(key, frame)
        return gr.Timer(active=True) if first and commentary_on else gr.skip()

    def camera_stopped(self, request: gr.Request):
        """The camera stopped (or failed): free its ring at once and pause commentary."""
        self.store.forget(camera_key(request))
        return gr.Timer(active=False)

    def commentary_toggled(self, on: bool, request: gr.Request):
        key = camera_key(request)
        return gr.Timer(active=bool(on and key and key in self.store))

    def stop_commentary(self):
        """Stop (the question box's square) also ends live commentary."""
        return gr.Checkbox(value=False), gr.Timer(active=False)

    def forget_camera(self, request: gr.Request) -> None:
        """Clear or a closed tab: free this tab's ring now."""
        prefix = tab_prefix(request)
        if prefix:
            self.store.forget(prefix)

    def commentary(self, conv: Conversation, on: bool, frame_count: int, request: gr.Request, **answer):
        """One commentary about the camera's last seconds, streamed into the chat with its time range;
        `answer` holds the answer settings' values by name (`AnswerChoice`)."""
        ctx, page = self.ctx, self.page
        clip = live_clip(self.store, request, frame_count) if on else None
        if clip is None:
            yield {page.chat.camera.timer: gr.Timer(active=False)}  # the camera stopped: no ticks until it starts
            return
        if conv.running:
            yield {}  # an answer is running: this tick passes
            return
        start_session(conv, request_tab(request), ctx.tabs)
        add_camera_turn(conv, "", clip, ctx.support.max_videos is not None, commentary=True)
        trim_commentary(conv)
        params = AnswerChoice(**answer).params(ctx.settings.max_new_tokens, cap=COMMENTARY_TOKENS)
        chat = {page.chat.chatbot: render_chat(conv), page.conv: conv}
        yield {**chat, page.chat.textbox: busy_box(), **page.side.showing(conv)}
        for _ in stream_answer(conv, params, ctx.engine, ctx.generate):
            yield {page.chat.chatbot: render_chat(conv), page.conv: conv}
        yield {page.chat.chatbot: render_chat(conv), page.conv: conv, page.chat.textbox: idle_box()}


def wire_camera(demo: gr.Blocks, page: Page, ctx: AppContext):
    """Connect the panel: frames into the store, commentary on its timer, freeing on stop/Clear/close;
    returns the commentary event (what must follow each commentary chains on it)."""
    handlers, panel, chat = CameraHandlers(demo, ctx, page), page.chat.camera, page.chat
    streaming = panel.video.stream(
        handlers.frame_in,
        [panel.video, panel.commentary],
        [panel.timer],
        stream_every=STREAM_EVERY_S,
        time_limit=None,
        preprocess=False,
        # a stream holds one of gradio's 40 job places even while it waits for
        # frames, and a waiting one fills the queue every visitor shares: at
        # most --camera-visitors, and a join past them is refused, not queued
        concurrency_id="camera",
        concurrency_limit=ctx.settings.camera_visitors,
        validator=handlers.may_join,
        show_progress="hidden",
        api_visibility="private",
    )
    private = {"queue": False, "api_visibility": "private"}
    streaming.then(handlers.camera_stopped, None, [panel.timer], **private)
    panel.commentary.change(handlers.commentary_toggled, [panel.commentary], [panel.timer], **private)
    chat.textbox.stop(handlers.stop_commentary, None, [panel.commentary, panel.timer], **private)
    chat.chatbot.clear(handlers.forget_camera, None, None, **private)
    commenting = panel.timer.tick(
        handlers.commentary,
        [page.conv, panel.commentary, page.video.frames],
        [chat.chatbot, page.conv, chat.textbox, *page.side.outputs, panel.timer],
        inputs_kwargs=page.answer.by_name,
        concurrency_id="gpu",
        concurrency_limit=ctx.settings.at_model,
        show_progress="hidden",
        api_visibility="private",
    )
    demo.unload(handlers.forget_camera)
    return commenting
