"""What every part of the page needs, in one object: the engine, the settings, and the stores that
all visitors share (turns at the model, scans, cameras, tabs, decoded media)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from model.camera.frames import CameraLimits, CameraStore
from model.chat.conversation import Conversation
from model.chat.ledger import MediaLedger
from model.chat.limits import ChatLimits, MediaSupport
from model.chat.reading import Reading
from model.chat.turns import release_media
from model.engines.base import Describer, Engine
from model.engines.gate import ModelGate, gated_describe, queued
from model.engines.gpu import describe_for, generate_for
from model.flow.message import MessageServices
from model.media.remote import RemoteFiles
from model.media.work import DecodeSlots, MediaWork
from model.scan.segments import TimelineStore
from model.serving.sessions import Tabs
from model.serving.storage import remove_conversation, upload_folder
from model.serving.visitors import Visitor, VisitorStamp
from model.settings import AppSettings
from ui.gradio_internals import request_visitor


@dataclass
class AppContext:
    """The page's dependencies; built once per demo by `create`."""

    engine: Engine
    settings: AppSettings
    limits: ChatLimits
    gate: ModelGate  # turns at the model: answers and scan batches, waiting visitors in turn
    generate: Callable  # the engine's streamed generation, taking its turn at the model gate
    describe: Describer  # scan captions, taking their turns at the same gate
    timelines: TimelineStore  # finished scans by video content: the same video is scanned once
    cameras: CameraStore  # every tab's last seconds of camera
    tabs: Tabs  # the conversations each tab opened, freed when it closes
    ledger: MediaLedger  # decoded media of all conversations, under one budget
    remote: RemoteFiles  # what a file input named by URL may be (model/media/remote.py)
    media: MediaWork  # decoder slots and the time one message's files may take
    stamp: VisitorStamp  # signs an agent's address for gradio's loopback MCP calls (model/serving/visitors.py)

    @classmethod
    def create(cls, engine: Engine, settings: AppSettings, readable_roots: tuple[str, ...]) -> AppContext:
        """The context for `engine`; only files under `readable_roots` may be read."""
        gate = ModelGate(settings.concurrency)
        return cls(
            engine=engine,
            settings=settings,
            limits=ChatLimits.for_backend(engine.media_support, settings.max_frames, readable_roots),
            gate=gate,
            generate=queued(generate_for(engine), gate),
            describe=gated_describe(describe_for(engine), gate),
            timelines=TimelineStore(),
            cameras=CameraStore(
                seconds=settings.camera_seconds,
                limits=CameraLimits(settings.camera_time_limit, settings.camera_idle),
            ),
            tabs=Tabs(),
            ledger=MediaLedger(int(settings.media_gb * 2**30)),
            remote=RemoteFiles(
                roots=readable_roots,
                folder=str(upload_folder()),
                max_bytes=settings.max_file_mb * 2**20,
                fetch_public=settings.remote_files,
            ),
            media=MediaWork(seconds=settings.media_seconds, slots=DecodeSlots(settings.decoders)),
            stamp=VisitorStamp(),
        )

    @property
    def support(self) -> MediaSupport:
        return self.engine.media_support

    def state_callback(self) -> Callable[[Conversation], None]:
        """`forget` as a plain function, for `gr.State(delete_callback=...)`.

        gradio deep-copies every component's config on each page load; a bound method is copied
        with its object (this context, its engine, the model's weights), a function is not.
        """

        def forget(conv: Conversation) -> None:
            self.forget(conv)

        return forget

    def reading(self, request) -> Reading:
        """How the files of a request are read: in its visitor's decoder slot, within --media-seconds."""
        return Reading(self.media, owner=self.visitor(request).address)

    def message_services(self, request) -> MessageServices:
        """What taking a message of this request needs (`model/flow/message.py`)."""
        return MessageServices(self.limits, self.support, self.ledger, self.reading(request))

    def visitor(self, request) -> Visitor:
        """Who sent a gradio request (an agent's own address for gradio's loopback MCP calls)."""
        return request_visitor(request, getattr(request, "session_hash", None), self.stamp)

    def forget(self, conv: Conversation) -> None:
        """A conversation ends (Clear, or its state expires): its files, cache and budget share go."""
        release_media(conv)
        if conv.session_id:
            self.forget_id(conv.session_id)
            self.tabs.discard(conv.session_id)

    def forget_id(self, conv_id: str) -> None:
        """The engine's cache and the media budget's share of one conversation."""
        self.engine.forget(conv_id)
        self.ledger.forget(conv_id)

    def close_tab(self, tab: str | None) -> None:
        """A closed tab: only what this app noted under it is freed (the session hash is a key, never a path)."""
        for conv_id in self.tabs.close(tab):
            self.forget_id(conv_id)
            remove_conversation(conv_id)
