"""The one GPU entry point: `generate_stream`, decorated with `spaces.GPU`; `generate_remote` for
a backend whose model runs on another machine (vLLM), which must not hold a ZeroGPU slot.

On a ZeroGPU Space the decorated generator runs in a worker that holds a GPU for at most the
duration computed from the request; its arguments and yields (an engine's key, a Conversation,
strings and Finished) are picklable. Off Spaces `spaces.GPU` returns the function unchanged.
Engines are named by key, so that two engines in one process (tests) never answer for each other.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from functools import partial

import spaces

from model.chat.conversation import Conversation
from model.engines.base import Describer, Engine, Finished, GenerationParams
from model.engines.zerogpu import describe_seconds, gpu_seconds, on_zero_gpu
from model.media.clip import VideoClip

# by key: what a GPU call names (the engine itself holds the model); an engine no page uses goes
_engines: weakref.WeakValueDictionary[str, Engine] = weakref.WeakValueDictionary()


def engine_key(engine: Engine) -> str:
    """The key that names `engine` in GPU calls, registered on first use. A string pickles; the
    engine, which holds the model, must not travel (ZeroGPU's worker has its own, forked copy)."""
    key = f"{type(engine).__name__}-{id(engine):x}"
    _engines[key] = engine
    return key


def _stream(key: str, conv: Conversation, params: GenerationParams) -> Iterator[str | Finished]:
    stop = threading.Event()
    try:
        yield from _engines[key].stream(conv, params, stop)
    finally:
        stop.set()


@spaces.GPU(duration=lambda key, conv, params: gpu_seconds(conv, params))
def generate_stream(key: str, conv: Conversation, params: GenerationParams) -> Iterator[str | Finished]:
    """Stream the answer to the conversation's last turn with the engine named `key`; closing it
    stops the model."""
    yield from _stream(key, conv, params)


@spaces.GPU(duration=lambda key, clips, question, params: describe_seconds(clips, question, params))
def describe_on_gpu(key: str, clips: list[VideoClip], question: str, params: GenerationParams) -> list[str]:
    """One batch of a scan: a description per segment (clips and texts pickle)."""
    return _engines[key].describe(clips, question, params)


def describe_for(engine: Engine) -> Describer:
    """The batch describer for `engine`: through `spaces.GPU` on ZeroGPU (Stop then acts between
    batches: an event does not cross to the GPU worker), else the engine's own, stoppable inside one."""
    if engine.needs_gpu and on_zero_gpu():
        key = engine_key(engine)
        return lambda clips, question, params, stop: describe_on_gpu(key, clips, question, params)
    return engine.describe


def generate_remote(key: str, conv: Conversation, params: GenerationParams) -> Iterator[str | Finished]:
    """The same stream from a backend that runs elsewhere: no GPU is claimed for it."""
    yield from _stream(key, conv, params)


def generate_for(engine: Engine) -> Callable[[Conversation, GenerationParams], Iterator[str | Finished]]:
    """The stream function for `engine`: through `spaces.GPU` only when it runs the model here."""
    return partial(generate_stream if engine.needs_gpu else generate_remote, engine_key(engine))
