"""The parts of gradio's private API this app reads, in one place (tests/test_gradio_internals.py fails
loudly when a gradio release changes them).

- The queue's events, waiting and running: `Blocks._queue`, its `event_queue_per_concurrency_id`
  (an `EventQueue` per concurrency group, `.queue` a list of `Event`) and `active_jobs` (a list of
  running event lists or None). Each `Event` has `session_hash`, `concurrency_id` and `request` (the
  request that queued it).
- How an input fetches a file a client named by URL: `Component.async_move_resource_to_block_cache`,
  overridden so that URLs go through the app's own bounded fetch; the subclass then draws itself as
  the gradio component it extends (`get_block_name`, `get_block_class`).
- A chat message that is a ready-made HTML block: the config of `gr.HTML`, built once outside any page.
"""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr

from model.media.remote import RemoteFileError, RemoteFiles, is_url, resolve_url
from model.serving.visitors import Visitor, VisitorStamp, visitor_of


def queued_events(demo: gr.Blocks) -> Iterator:
    """Every event in the queue, waiting or running."""
    queue = getattr(demo, "_queue", None)
    if queue is None:
        return
    for group in list(queue.event_queue_per_concurrency_id.values()):
        yield from list(group.queue)
    for job in list(queue.active_jobs):
        yield from job or ()


def events_in_group(demo: gr.Blocks, concurrency_id: str) -> int:
    """Events of one concurrency group, waiting or running."""
    return sum(event.concurrency_id == concurrency_id for event in queued_events(demo))


def request_visitor(request, session: str | None, stamp: VisitorStamp) -> Visitor:
    """Who sent a request (a starlette or gradio one): its address, or an agent's own for gradio's
    loopback MCP calls, and its tab."""
    client = getattr(request, "client", None)
    headers = getattr(getattr(request, "headers", None), "raw", None) or []
    return visitor_of(getattr(client, "host", None) or "unknown", headers, session, stamp)


def event_visitor(event, stamp: VisitorStamp) -> Visitor:
    """Who queued an event (as the guard judged the request that queued it)."""
    return request_visitor(event.request, event.session_hash, stamp)


def job_counter(demo: gr.Blocks, stamp: VisitorStamp):
    """`jobs(visitor)` for the guard: (that visitor's, that address's) events waiting or running."""

    def jobs(visitor: Visitor) -> tuple[int, int]:
        mine = address = 0
        for event in queued_events(demo):
            other = event_visitor(event, stamp)
            address += other.address == visitor.address
            mine += visitor.session is not None and other.session == visitor.session
        return mine, address

    return jobs


class ResolvesUrls:
    """Mixed into a gradio input: URL inputs go through `resolve_url` under `self.remote_files`."""

    remote_files: RemoteFiles | None = None  # None refuses every URL

    async def async_move_resource_to_block_cache(self, url_or_file_path):
        if url_or_file_path is None or not is_url(str(url_or_file_path)):
            return await super().async_move_resource_to_block_cache(url_or_file_path)
        if self.remote_files is None:
            raise gr.Error("Upload the file instead of naming it by URL.", print_exception=False)
        try:
            return await resolve_url(str(url_or_file_path), self.remote_files)
        except RemoteFileError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    def get_block_name(self) -> str:
        """The gradio component's own name: the page draws it with gradio's own frontend."""
        return next(c for c in type(self).__mro__ if c.__module__.startswith("gradio.")).__name__.lower()

    get_block_class = get_block_name


def html_block_props() -> dict:
    """The configuration of a plain gr.HTML block, without its value and click script."""
    return {**gr.HTML(render=False).get_config(), "value": None, "js_on_load": None}


def cameras_running(demo: gr.Blocks) -> int:
    """Camera streams running or waiting for a place (the 'camera' group's events)."""
    return events_in_group(demo, "camera")
