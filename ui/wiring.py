"""The page's listeners: which handler each event of the chat runs, with what inputs and outputs, in
which concurrency group, and what follows it; `wire_page` wires the whole page (the camera's panel
and the API wire their own, in ui/camera.py and ui/api.py).

The chat's own steps (send, answer, stop, retry, undo, clear) are callable by programs too, but
undocumented: /ask is the public API. Everything else is private.
"""

from __future__ import annotations

import gradio as gr

from ui.api import wire_api
from ui.camera import wire_camera
from ui.context import AppContext
from ui.controls import keep_in_range
from ui.export import lock_exports
from ui.handlers import ChatHandlers
from ui.layout import Page

PRIVATE = {"api_visibility": "private"}
UNDOCUMENTED = {"api_visibility": "undocumented"}
INSTANT = {"queue": False}  # runs at once, outside the queue: nothing heavy


def wire_page(demo: gr.Blocks, page: Page, ctx: AppContext) -> None:
    """Every listener of the page: the chat, the camera's panel, the API, the closed tab."""
    handlers = ChatHandlers(ctx, page)
    chat_events = wire_chat(page, handlers, ctx.settings.scans, ctx.settings.at_model)
    refresh_exports_after(page, handlers, *chat_events, wire_camera(demo, page, ctx))
    wire_api(ctx)
    demo.unload(handlers.tab_closed)


def refresh_exports_after(page: Page, handlers: ChatHandlers, *events) -> None:
    """Fresh download files once each of `events` is done."""
    for event in events:
        event.then(
            handlers.exports_for,
            [page.conv, page.video.frames],
            page.chat.exports,
            inputs_kwargs=page.answer.by_name,
            **PRIVATE,
            **INSTANT,
        )


def wire_chat(page: Page, handlers: ChatHandlers, scans: int, at_model: int) -> tuple:
    """Connect the chat, its settings and the side panel to the handlers; returns the events after
    which the downloads are made again."""
    chat, conv, side = page.chat, page.conv, page.side.outputs
    # the answer's step, after a question and after Retry: `outputs` is what `handlers.answer` may update
    answer_step = {
        "fn": handlers.answer,
        "inputs": [conv],
        "outputs": [chat.chatbot, conv],
        "inputs_kwargs": page.answer.by_name,
        "concurrency_id": "gpu",
        "concurrency_limit": at_model,
    }
    page.video.wire()
    for slider in (page.video.frames, *page.answer.by_name.values()):
        keep_in_range(slider)
    scanning = page.scan.button.click(
        handlers.scan_newest,
        [conv, page.scan.segment_s],
        [page.scan.timeline, chat.textbox, conv, page.side.player, page.side.player_note],
        concurrency_id="scan",
        concurrency_limit=scans,
        show_progress="hidden",
        **PRIVATE,
    )
    submitted = chat.textbox.submit(
        handlers.submit,
        [chat.textbox, conv],
        [chat.textbox, chat.chatbot, conv, *side],
        inputs_kwargs=page.video.by_name,
        concurrency_id="media",
        concurrency_limit=4,
        api_name="send",
        show_progress="hidden",
        **UNDOCUMENTED,
    )
    answering = submitted.then(**answer_step, api_name="answer", **UNDOCUMENTED)
    # The browser's preview of a video it cannot play is made beside the answer, not on its path.
    submitted.then(
        handlers.show_player,
        [conv],
        [page.side.player, page.side.player_note],
        concurrency_id="preview",
        concurrency_limit=2,
        show_progress="hidden",
        api_name="player",
        **UNDOCUMENTED,
    )
    # Off while a question runs, on again with fresh files once it is answered: never a stale download.
    chat.textbox.submit(lock_exports, None, chat.exports, **INSTANT, **PRIVATE)
    chat.chatbot.retry(lock_exports, None, chat.exports, **INSTANT, **PRIVATE)
    answered = answering.then(handlers.unlock, None, chat.textbox, **PRIVATE)
    # Stop only marks the turn; what runs (sampling or the answer's stream) ends at its next step
    # and renders the final state itself, in one update (a render from Stop could land before the
    # stream's last one and be overtaken by it).
    chat.textbox.stop(handlers.stop, [conv], None, concurrency_limit=None, api_name="stop", **UNDOCUMENTED, **INSTANT)
    retried = chat.chatbot.retry(
        handlers.retry, [conv], [chat.chatbot, conv, chat.textbox], api_name="retry", **UNDOCUMENTED, **INSTANT
    )
    reanswered = retried.then(**answer_step, **PRIVATE).then(handlers.unlock, None, chat.textbox, **PRIVATE)
    undone = chat.chatbot.undo(
        handlers.undo, [conv], [chat.chatbot, conv, chat.textbox, *side], api_name="undo", **UNDOCUMENTED, **INSTANT
    )
    cleared = chat.chatbot.clear(
        handlers.clear, [conv], [chat.chatbot, conv, *side], api_name="clear", **UNDOCUMENTED, **INSTANT
    )
    return scanning, answered, reanswered, undone, cleared
