"""The one GPU entry point: `generate_stream`, decorated with `spaces.GPU`; `generate_remote` for
a backend whose model runs on another machine (vLLM), which must not hold a ZeroGPU slot.

On a ZeroGPU Space the decorated generator runs in a worker that holds a GPU for at most the
duration computed from the request; its arguments and yields (a Conversation, strings and
Finished) are picklable. Off Spaces `spaces.GPU` returns the function unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import spaces

from model.chat.conversation import Conversation
from model.engines.base import Engine, Finished, GenerationParams
from model.engines.zerogpu import describe_seconds, gpu_seconds, on_zero_gpu
from model.media.clip import VideoClip
from model.scan.runner import Describer

_engine: Engine | None = None


def set_engine(engine: Engine) -> None:
    """Install the process-wide engine (done once at start-up, before any request)."""
    global _engine
    _engine = engine


def get_engine() -> Engine:
    if _engine is None:
        raise RuntimeError("set_engine() was not called")
    return _engine


def _stream(conv: Conversation, params: GenerationParams) -> Iterator[str | Finished]:
    stop = threading.Event()
    try:
        yield from get_engine().stream(conv, params, stop)
    finally:
        stop.set()


@spaces.GPU(duration=gpu_seconds)
def generate_stream(conv: Conversation, params: GenerationParams) -> Iterator[str | Finished]:
    """Stream the answer to the conversation's last turn; closing it stops the model."""
    yield from _stream(conv, params)


@spaces.GPU(duration=describe_seconds)
def describe_on_gpu(clips: list[VideoClip], question: str, params: GenerationParams) -> list[str]:
    """One batch of a scan: a description per segment (clips and texts pickle)."""
    return get_engine().describe(clips, question, params)


def describe_for(engine: Engine) -> Describer:
    """The batch describer for `engine`: through `spaces.GPU` on ZeroGPU (Stop then acts between
    batches: an event does not cross to the GPU worker), else the engine's own, stoppable inside one."""
    if engine.needs_gpu and on_zero_gpu():
        return lambda clips, question, params, stop: describe_on_gpu(clips, question, params)
    return engine.describe


def generate_remote(conv: Conversation, params: GenerationParams) -> Iterator[str | Finished]:
    """The same stream from a backend that runs elsewhere: no GPU is claimed for it."""
    yield from _stream(conv, params)


def generate_for(engine: Engine) -> Callable[[Conversation, GenerationParams], Iterator[str | Finished]]:
    """The stream function for `engine`: through `spaces.GPU` only when it runs the model here."""
    return generate_stream if engine.needs_gpu else generate_remote
