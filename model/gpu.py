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

from model.conversation import Conversation
from model.backend import Engine, Finished, GenerationParams
from model.zerogpu import gpu_seconds  # noqa: F401 - the duration spaces.GPU asks for

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


def generate_remote(conv: Conversation, params: GenerationParams) -> Iterator[str | Finished]:
    """The same stream from a backend that runs elsewhere: no GPU is claimed for it."""
    yield from _stream(conv, params)


def generate_for(engine: Engine) -> Callable[[Conversation, GenerationParams], Iterator[str | Finished]]:
    """The stream function for `engine`: through `spaces.GPU` only when it runs the model here."""
    return generate_stream if engine.needs_gpu else generate_remote
