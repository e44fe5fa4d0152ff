"""The chat's event handlers: send, answer, scan, Stop, Retry, Undo, Clear, a closed tab, downloads.

Each is a method of `ChatHandlers`, which holds the page's `AppContext` and its components; each
returns its updates by component (a dict: a component left out stays as it is), so that the order of
the outputs `ui/wiring.py` lists never matters.
"""

from __future__ import annotations

import gradio as gr

from model.chat.conversation import Conversation, attached_files, latest_video
from model.chat.editing import mark_stopped, retry_last, undo_last
from model.chat.limits import UserInputError
from model.chat.turns import start_session
from model.engines.answering import stream_answer
from model.engines.zerogpu import on_zero_gpu
from model.flow.message import Message, take_message
from model.scan.runner import ScanOptions, run_scan, scan_gpu_cost, stop_scan
from model.scan.segments import SEGMENT_S, ScanProgress, segment_bounds
from model.serving.sessions import request_tab
from ui.answer_settings import AnswerChoice
from ui.camera import live_clip
from ui.chat_view import render_chat
from ui.context import AppContext
from ui.controls import busy_box, idle_box
from ui.export import refresh_exports
from ui.layout import Page
from ui.scan import timeline_for, timeline_html
from ui.video_settings import VideoChoice

RELOAD = "This page's session is not valid; please reload the page."


def crafted_session(request: gr.Request | None) -> bool:
    """True (with a warning) for a request whose session hash is not of gradio's making."""
    if request is None or request_tab(request) is not None:
        return False
    gr.Warning(RELOAD)
    return True


class ChatHandlers:
    """The handlers of one page, sharing its context and its components."""

    def __init__(self, ctx: AppContext, page: Page):
        self.ctx, self.page = ctx, page

    def chat_of(self, conv: Conversation) -> dict:
        """The chat as it stands, and the conversation (every handler that changes one returns both)."""
        return {self.page.chat.chatbot: render_chat(conv), self.page.conv: conv}

    def submit(self, message: dict | None, conv: Conversation, request: gr.Request = None, **video):
        """Hand the message down (`take_message`: checked, its files read, Stop ends the reading) and show
        the chat each time it changes. `video` holds the video settings' values by name (`VideoChoice`)."""
        ctx, page, message, choice = self.ctx, self.page, message or {}, VideoChoice(**video)
        if crafted_session(request):
            yield {page.conv: conv}
            return
        start_session(conv, request_tab(request), ctx.tabs)
        try:
            steps = take_message(
                conv,
                Message(
                    text=message.get("text"),
                    files=message.get("files"),
                    options=choice.options(ctx.limits),
                    from_scan=choice.from_scan,
                    camera=live_clip(ctx.cameras, request, choice.frame_count(ctx.limits)),
                    owner=ctx.visitor(request).address,
                ),
                ctx.message_services(request),
            )
        except UserInputError as exc:
            gr.Warning(str(exc))
            yield self.chat_of(conv)
            return
        locked = {page.chat.textbox: busy_box(value=None)}
        for _ in steps:
            yield {**locked, **self.chat_of(conv)}
        yield {**locked, **self.chat_of(conv), **page.side.showing(conv, previews=False)}

    def show_player(self, conv: Conversation) -> dict:
        """The player for the newest video, its browser preview made if it needs one: beside the
        answer, not before it."""
        return self.page.side.player_of(conv)

    def scan_newest(self, conv: Conversation, segment_s: float, request: gr.Request = None):
        """Describe every part of the newest video into its timeline (Stop keeps the parts done; scanning
        again goes on from them); its parts become the player's subtitles."""
        ctx, page = self.ctx, self.page
        if crafted_session(request):
            yield {page.conv: conv}
            return
        start_session(conv, request_tab(request), ctx.tabs)
        video = latest_video(conv)
        if video is None or conv.running:
            gr.Warning(
                "Send a video first: the scan describes the newest video in the chat."
                if video is None
                else "Wait for the answer to finish, then scan."
            )
            yield {page.conv: conv}
            return
        options = ScanOptions(segment_s=float(segment_s or SEGMENT_S)).bounded(
            ctx.settings.scan_max_frames, ctx.settings.scan_max_tokens
        )
        batch = ctx.engine.scan_batch(options.frames_per_segment, options.max_new_tokens)
        cost = scan_gpu_cost(video.clip.duration, options, batch) if on_zero_gpu() else ""
        parts = len(segment_bounds(video.clip.duration, options.segment_s))
        timeline, box = page.scan.timeline, page.chat.textbox
        start = ScanProgress(total=parts, duration=video.clip.duration)
        yield {timeline: timeline_html(video.name, start, cost), box: busy_box(), page.conv: conv}
        for item, progress in run_scan(conv, ctx.describe, ctx.timelines, ctx.engine.description, options, batch):
            yield {timeline: timeline_html(item.name, progress, cost), box: busy_box(), page.conv: conv}
        # the player changes once the scan ends: its parts become the player's subtitles
        yield {timeline: timeline_for(conv), box: idle_box(), page.conv: conv, **page.side.player_of(conv)}

    def answer(self, conv: Conversation, **answer):
        """Stream the answer to the last turn into the chat; `answer` holds the answer settings' values
        by name (`AnswerChoice`)."""
        params = AnswerChoice(**answer).params(self.ctx.settings.max_new_tokens)
        yield self.chat_of(conv)
        for _ in stream_answer(conv, params, self.ctx.engine, self.ctx.generate):
            yield self.chat_of(conv)

    def stop(self, conv: Conversation) -> None:
        """Mark what runs as stopped; its own stream ends at its next step and renders the final state."""
        mark_stopped(conv)
        stop_scan(conv)

    def retry(self, conv: Conversation) -> dict:
        """Clear the last answer and lock the input, as a new question does."""
        if conv.running:
            return {self.page.conv: conv}  # an answer is being written: let it finish or be stopped
        if not retry_last(conv):
            gr.Warning("There is no answer to retry.")
            return self.chat_of(conv)
        return {**self.chat_of(conv), self.page.chat.textbox: busy_box()}

    def undo(self, conv: Conversation) -> dict:
        files = attached_files(conv, conv.last) if conv.last else []
        turn = undo_last(conv)
        restored = {"text": turn.text, "files": files} if turn else None
        return {**self.chat_of(conv), self.page.chat.textbox: idle_box(value=restored), **self.page.side.showing(conv)}

    def clear(self, conv: Conversation) -> dict:
        self.ctx.forget(conv)
        fresh = Conversation()
        return {self.page.chat.chatbot: [], self.page.conv: fresh, **self.page.side.showing(fresh)}

    def tab_closed(self, request: gr.Request) -> None:
        """A closed tab: free its conversations' caches and files now, not when its state expires."""
        self.ctx.close_tab(request_tab(request))

    def unlock(self):
        return idle_box()

    def exports_for(self, conv: Conversation, frames: int, **answer):
        """The download buttons' files for the conversation as it stands, and the settings it was
        answered with."""
        recorded = {"frames per video": int(frames), **AnswerChoice(**answer).recorded()}
        return refresh_exports(conv, self.ctx.engine.description, recorded)
