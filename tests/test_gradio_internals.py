"""The parts of gradio's private API the app reads (ui/gradio_internals.py) are still there: a gradio
release that changes them fails here, by name, before it breaks the fair share, the camera's
places, files by URL or the chat's frame strips."""

from __future__ import annotations

import inspect

import gradio as gr
from gradio.queueing import Event, EventQueue, Queue

from ui.gradio_internals import cameras_running, events_in_group, html_block_props, queued_events


def test_the_queue_keeps_its_events_where_the_fair_share_reads_them():
    with gr.Blocks() as demo:
        gr.Button().click(lambda: None, concurrency_id="camera")
    demo.queue()
    queue = demo._queue
    assert isinstance(queue, Queue)
    assert isinstance(queue.event_queue_per_concurrency_id, dict) and isinstance(queue.active_jobs, list)
    assert {"queue", "concurrency_id"} <= set(vars(EventQueue("camera", 1)))
    fn = type("Fn", (), {"concurrency_id": "camera"})()
    event = Event("abcdefgh1234", fn, request=None, username=None)
    assert (event.session_hash, event.concurrency_id, event.request) == ("abcdefgh1234", "camera", None)
    assert list(queued_events(demo)) == [] and events_in_group(demo, "camera") == cameras_running(demo) == 0


def test_an_input_still_fetches_through_the_method_the_app_overrides():
    method = gr.components.Component.async_move_resource_to_block_cache
    assert inspect.iscoroutinefunction(method)
    assert list(inspect.signature(method).parameters) == ["self", "url_or_file_path"]
    assert callable(gr.components.Component.get_block_name)


def test_an_html_block_config_has_the_props_a_strip_replaces():
    props = html_block_props()
    assert "value" in props and "js_on_load" in props and props["value"] is None
