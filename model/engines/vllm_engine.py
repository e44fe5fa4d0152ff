"""The vLLM backend: the same chat, answered by an OpenAI-compatible vLLM server over HTTP.

Frames are still sampled here by the media layer (so the page shows exactly what the model saw)
and sent once as a `video_url` content part whose URL is `data:video/jpeg;base64,<frame 1>,<frame 2>,...`,
with a `uuid` that later turns name it by (sent again in full when the server no longer holds it).
The conversation goes as OpenAI chat messages, with a routing key per conversation (`X-Session-ID`,
`user`) for a session-affinity router, and the answer comes back as server-sent events.
Closing the stream (Stop, a closed tab) closes the connection, and vLLM aborts the request.

What vLLM takes for LLaVA-NeXT-Video, found by running it: text and video only (an image gets
HTTP 400 "At most 0 image(s)"), one video per prompt, and only the first `num_frames` JPEGs of a
video (32 unless the server is started with `--media-io-kwargs`). So an image goes as a video of
one frame, and a newer video or image takes the place of the one before in the context (the
family's adapter says what its server takes: `server_media`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
from PIL import Image

from model.chat.budget import make_way
from model.chat.conversation import Conversation, MediaItem, segment_conversation, template_messages
from model.chat.limits import MediaSupport
from model.engines.base import EngineError, Finished, GenerationParams, GenerationStats
from model.engines.families import FAMILIES, LLAVA_NEXT_VIDEO, UnknownFamily, family_for
from model.engines.families.family import Family
from model.media.clip import VideoClip
from model.media.pictures import jpeg_base64

log = logging.getLogger(__name__)

VLLM_FRAMES = 32  # frames vLLM keeps of a JPEG video unless started with --media-io-kwargs
JPEG_QUALITY = 90
CONNECT_TIMEOUT_S = 10.0
SESSION_HEADER = "X-Session-ID"  # what session-affinity routers hash first (vllm-router's consistent_hash)
CACHE_MISS = "Cache miss"  # vLLM's 400 for a uuid it no longer holds ("Cache miss for video at index 0 …")
STOPPED_MESSAGE = "The model server stopped while answering; the answer so far is kept. Please try again."


@dataclass(frozen=True)
class ServerConfig:
    """Where the vLLM server is and how to talk to it."""

    url: str  # the OpenAI API root, e.g. http://127.0.0.1:8000/v1
    model: str | None = None  # served model name; None: the one model the server lists
    api_key: str | None = None  # vLLM's --api-key, sent as a bearer token
    timeout_s: float = 60.0  # longest wait for the server's next bytes
    max_frames: int = VLLM_FRAMES  # the server's num_frames
    frame_tokens: int = 144  # tokens of one frame on the server: 144 for every published LLaVA-NeXT-Video


def served_family(model: str) -> Family:
    """The family of the model a server serves, by its hub id (vLLM's `root`, or its name), else by
    the config.json of a local folder; LLaVA-NeXT-Video when neither says."""
    name = model.rstrip("/").lower()
    for family in FAMILIES:
        if any(name.endswith(member.short_name.lower()) for member in family.members):
            return family
    config = Path(model) / "config.json"
    try:
        return family_for(SimpleNamespace(**json.loads(config.read_text(encoding="utf-8"))))
    except (OSError, ValueError, TypeError, AttributeError, UnknownFamily):
        return LLAVA_NEXT_VIDEO


def video_data_url(frames: np.ndarray, quality: int = JPEG_QUALITY) -> str:
    """`data:video/jpeg;base64,<jpeg>,<jpeg>,...`: the frames of a clip as vLLM reads them, in order."""
    return "data:video/jpeg;base64," + ",".join(jpeg_base64(Image.fromarray(frame), quality) for frame in frames)


class VideoUrls:
    """Each media item's data URL (a video's frames, or an image sent as an image), encoded once (by
    the item's key, which new frames change) and kept while it is among the newest `max_bytes` of
    them: a follow-up re-sends the same bytes without JPEG-encoding every frame again."""

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        self.max_bytes = max_bytes
        self._urls: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def url(self, item: MediaItem, as_image: bool = False) -> str:
        key = f"{item.key}/image" if as_image else item.key
        with self._lock:
            if key in self._urls:
                self._urls.move_to_end(key)
                return self._urls[key]
        url = image_data_url(item.image) if as_image else video_data_url(frames_of(item))
        with self._lock:
            if key not in self._urls:
                self._urls[key] = url
                self._bytes += len(url)
            while self._bytes > self.max_bytes and len(self._urls) > 1:
                self._bytes -= len(self._urls.popitem(last=False)[1])
        return url


class MediaRefs:
    """Which videos the server holds by their uuid (sent with their data before, and answered), so
    that later requests name them by uuid alone; a video the server missed is sent with its data
    from then on. The newest `capacity` are remembered."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._held: OrderedDict[str, bool] = OrderedDict()  # uuid -> held (False: always send the data)
        self._lock = threading.Lock()

    def holds(self, uuid: str) -> bool:
        with self._lock:
            return self._held.get(uuid) is True

    def mark(self, uuids: Iterable[str], held: bool) -> None:
        with self._lock:
            for uuid in uuids:
                if held and self._held.get(uuid) is False:
                    continue  # missed once: its data goes with every request
                self._held[uuid] = held
                self._held.move_to_end(uuid)
            while len(self._held) > self.capacity:
                self._held.popitem(last=False)


def frames_of(item: MediaItem) -> np.ndarray:
    """A video item's frames; an image as a video of one frame."""
    if item.clip is not None:
        return item.clip.frames
    if item.image is not None:
        return np.asarray(item.image.convert("RGB"))[None]
    raise EngineError(f"{item.name} holds no pixels any more; attach it again.")


def media_uuid(item: MediaItem) -> str:
    """The uuid a video's frames go by on the server: a hash of the item's random key (new frames,
    a new key), which names nothing else."""
    return hashlib.blake2b(item.key.encode(), digest_size=16, person=b"llava-media").hexdigest()


def video_part(item: MediaItem, urls: VideoUrls | None = None, refs: MediaRefs | None = None) -> dict:
    """The OpenAI content part of a sampled video: its frames as a data URL (from `urls` when
    given); with `refs`, its uuid too, and only its uuid when the server holds it already."""
    if refs is None:
        return {"type": "video_url", "video_url": {"url": urls.url(item) if urls else video_data_url(frames_of(item))}}
    uuid = media_uuid(item)
    url = None if refs.holds(uuid) else urls.url(item) if urls else video_data_url(frames_of(item))
    return {"type": "video_url", "video_url": {"url": url}, "uuid": uuid}


def image_data_url(image: Image.Image, quality: int = JPEG_QUALITY) -> str:
    return "data:image/jpeg;base64," + jpeg_base64(image, quality)


def image_part(item: MediaItem, urls: VideoUrls | None = None) -> dict:
    """The OpenAI content part of an image, for a server that takes images (LLaVA-OneVision)."""
    return {
        "type": "image_url",
        "image_url": {"url": urls.url(item, as_image=True) if urls else image_data_url(item.image)},
    }


def chat_messages(
    conv: Conversation,
    urls: VideoUrls | None = None,
    refs: MediaRefs | None = None,
    support: MediaSupport | None = None,
) -> list[dict]:
    """The conversation as OpenAI chat messages, frames included (or named, see `video_part`); images
    as images where the server takes them (`support`), else as one-frame videos."""
    images = support is not None and support.images and support.image_tokens is None

    def part(item: MediaItem) -> dict:
        return image_part(item, urls) if images and item.kind == "image" else video_part(item, urls, refs)

    return template_messages(conv, media_part=part)


def media_uuids(body: dict) -> tuple[list[str], list[str]]:
    """(uuids of the videos a request sends with their data, uuids of those it names alone)."""
    sent, named = [], []
    for message in body["messages"]:
        for part in message["content"] if isinstance(message["content"], list) else []:
            if part.get("uuid"):
                (named if part["video_url"]["url"] is None else sent).append(part["uuid"])
    return sent, named


def routing_key(conv: Conversation) -> str | None:
    """A stable id of the conversation for a router's session affinity (every turn of it on one
    replica, where its prefix is cached): a hash of its random id, which names nothing else."""
    if not conv.session_id:
        return None
    return hashlib.blake2b(conv.session_id.encode(), digest_size=16, person=b"llava-route").hexdigest()


def request_body(
    conv: Conversation,
    params: GenerationParams,
    model: str,
    urls: VideoUrls | None = None,
    refs: MediaRefs | None = None,
    support: MediaSupport | None = None,
) -> dict:
    """The JSON of one streamed chat completion; `user` carries the conversation's routing key."""
    body = {
        "model": model,
        "messages": chat_messages(conv, urls, refs, support),
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": params.max_new_tokens,
        "temperature": max(0.0, params.temperature),
    }
    if params.temperature > 0:
        body["top_p"] = params.top_p
    key = routing_key(conv)
    if key is not None:
        body["user"] = key
    return body


def sse_events(lines: Iterable[str]) -> Iterator[dict]:
    """The JSON objects of a server-sent event stream, up to `data: [DONE]`."""
    for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, comments (': ping'), other fields
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except json.JSONDecodeError:
            log.warning("unreadable event from the model server: %.200s", data)
            continue
        if isinstance(event, dict):
            yield event


def check_media(conv: Conversation, support: MediaSupport) -> None:
    """Raise EngineError when the conversation holds what the server would refuse."""
    if not support.images and conv.count("image"):
        raise EngineError("The model server takes text and video only: remove the image, or press Clear.")
    if support.max_videos is not None and len(support.counted(conv)) > support.max_videos:
        raise EngineError("The model server takes one video per conversation: press Clear to ask about another.")
    longest = max((len(clip.timestamps) for clip in conv.videos()), default=0)
    if support.max_frames is not None and longest > support.max_frames:
        raise EngineError(
            f"The model server keeps at most {support.max_frames} frames per video: ask with fewer frames."
        )


def error_text(payload: object) -> str:
    """The message of a vLLM error body ({"error": {"message": ...}}), on one line."""
    error = payload.get("error", payload) if isinstance(payload, dict) else payload
    message = error.get("message", "") if isinstance(error, dict) else error
    return " ".join(str(message).split())[:300]


def server_message(response: httpx.Response) -> str:
    """The error text of a failed request, as the server puts it."""
    try:
        return error_text(response.json())
    except ValueError:
        return error_text(response.text)


def describe_http_error(response: httpx.Response) -> str:
    """A chat-ready sentence for a request the server refused or failed."""
    status, message = response.status_code, server_message(response)
    if status == 400 and "maximum context length" in message:
        return f"This conversation is too long for the model server: press Clear, or ask with fewer frames. ({message})"
    if status in (400, 422):
        return f"The model server refused the question: {message}"
    if status in (401, 403):
        return f"The model server refused the demo's key (HTTP {status}); tell the demo's operator."
    if status == 404:
        return f"The model server does not serve this model: {message}"
    if status in (429, 503):
        return "The model server is busy; please try again in a moment."
    return f"The model server failed (HTTP {status}); please try again."


class VLLMEngine:
    """Streams answers from a vLLM server's /chat/completions; keeps nothing between turns."""

    needs_gpu = False
    notice: str | None = None

    def __init__(self, config: ServerConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self.family = LLAVA_NEXT_VIDEO  # until the server says which model it serves (check_server)
        self.media_support = self.family.server_media(config.max_frames, config.frame_tokens)
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self.client = httpx.Client(
            base_url=config.url.rstrip("/") + "/",
            headers=headers,
            transport=transport,
            timeout=httpx.Timeout(config.timeout_s, connect=min(CONNECT_TIMEOUT_S, config.timeout_s)),
            # idle connections are dropped well before the server's keep-alive timeout (vLLM: 5 s)
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64, keepalive_expiry=2.0),
        )
        self._model = config.model
        self.video_urls = VideoUrls()
        self.media_refs = MediaRefs()

    @property
    def family_name(self) -> str:
        return self.family.name

    @property
    def description(self) -> str:
        return f"{self._model or 'the served model'} on the vLLM server at {self.config.url}"

    def model_name(self) -> str:
        """The served model name: configured, or the only model the server lists."""
        if self._model is None:
            response = self.client.get("models")
            if response.status_code != 200:
                raise EngineError(describe_http_error(response))
            names = [m.get("id") for m in response.json().get("data", [])]
            if len(names) != 1:
                raise EngineError(
                    f"The model server lists {len(names)} models; start the demo with --served-model-name to pick one."
                )
            self._model = names[0]
        return self._model

    def check_server(self) -> str | None:
        """None when the server answers; otherwise why not (for the start-up log). Learns the family
        of the model it serves, and so what it takes."""
        try:
            name = self.model_name()
            response = self.client.get("models")
            listed = response.json() if response.status_code == 200 else {}
        except (EngineError, httpx.HTTPError, ValueError) as exc:
            return str(exc) or type(exc).__name__
        entries = listed.get("data") if isinstance(listed, dict) else None
        served = next((m for m in entries or [] if isinstance(m, dict) and m.get("id") == name), {})
        self.family = served_family(str(served.get("root") or name))
        self.media_support = self.family.server_media(self.config.max_frames, self.config.frame_tokens)
        return None

    def healthy(self) -> bool:
        """True when the server's /health answers 200 (a stopping vLLM keeps open streams silent)."""
        try:
            return self.client.get(httpx.URL(self.config.url).join("/health"), timeout=5.0).status_code == 200
        except httpx.HTTPError:
            return False

    def prepare_turn(self, conv: Conversation, params: GenerationParams) -> list[str]:
        """Make way for the newest media where the server takes fewer at once; refuse what it would
        still refuse, before anything is sent."""
        support = self.media_support
        notes = make_way(conv, support)
        if support.image_tokens is not None and conv.last is not None:
            notes += [
                f"{m.name} goes to the model server as one video frame ({support.image_tokens} tokens)."
                for m in conv.last.context_media()
                if m.kind == "image"
            ]
        check_media(conv, support)
        return notes

    def stream(self, conv: Conversation, params: GenerationParams, stop: threading.Event) -> Iterator[str | Finished]:
        """Yield the answer's text pieces as the server sends them, then Finished with its stats."""
        started = time.perf_counter()
        first_at: float | None = None
        pieces, usage = 0, {}
        try:
            with self._answer(conv, params) as response:
                for event in sse_events(response.iter_lines()):
                    if stop.is_set():
                        return
                    if "error" in event:  # e.g. its engine died: the detail is for the log
                        log.warning("model server error while answering: %s", error_text(event))
                        raise EngineError(STOPPED_MESSAGE)
                    usage = event.get("usage") or usage
                    text = "".join(
                        (choice.get("delta") or {}).get("content") or "" for choice in event.get("choices") or []
                    )
                    if text:
                        first_at = first_at or time.perf_counter()
                        pieces += 1
                        yield text
        except httpx.ConnectError:
            raise EngineError(
                f"The model server at {self.config.url} is not reachable; please try again in a minute."
            ) from None
        except httpx.TimeoutException:
            if self.healthy():
                raise EngineError(
                    f"The model server sent nothing for {self.config.timeout_s:.0f} s; please try again."
                ) from None
            raise EngineError(STOPPED_MESSAGE) from None
        except httpx.HTTPError as exc:
            log.warning("model server connection broke: %s", exc)
            raise EngineError(STOPPED_MESSAGE) from None
        yield Finished(stats=self._stats(conv, usage, pieces, started, first_at))

    def describe(
        self, clips: list[VideoClip], question: str, params: GenerationParams, stop: threading.Event | None = None
    ) -> list[str]:
        """One answer per clip to the same question, all requests in flight at once (the server
        batches them continuously)."""
        stop = stop or threading.Event()

        def one(clip: VideoClip) -> str:
            return "".join(
                p for p in self.stream(segment_conversation(clip, question), params, stop) if isinstance(p, str)
            )

        with ThreadPoolExecutor(max_workers=max(1, len(clips)), thread_name_prefix="describe") as pool:
            return list(pool.map(one, clips))

    def scan_batch(self, frames_per_segment: int, new_tokens: int, limit: int = 16) -> int:
        """Segments sent at once: the server's own batching decides how they share its GPU."""
        return limit

    @contextmanager
    def _answer(self, conv: Conversation, params: GenerationParams) -> Iterator[httpx.Response]:
        """The server's streaming answer to the conversation (EngineError when it refuses). Videos it
        holds already are named by uuid alone; when it has let one go ("Cache miss"), the request
        goes again once with their data."""
        model, key = self.model_name(), routing_key(conv)
        headers = {SESSION_HEADER: key} if key else {}
        for attempt in (1, 2):
            body = request_body(conv, params, model, self.video_urls, self.media_refs, self.media_support)
            sent, named = media_uuids(body)
            with self._post_streaming(body, headers) as response:
                if response.status_code == 200:
                    self.media_refs.mark(sent + named, held=True)
                    yield response
                    return
                response.read()
                if not (named and attempt == 1 and CACHE_MISS in server_message(response)):
                    raise EngineError(describe_http_error(response))
            log.info("the model server no longer holds %d video(s); sending their frames again", len(named))
            self.media_refs.mark(named, held=False)

    @contextmanager
    def _post_streaming(self, body: dict, headers: dict | None = None) -> Iterator[httpx.Response]:
        """The response to a chat request, unread, closed on exit; sent again once when a kept-alive
        connection turns out to have been closed by the server before it answered."""
        request = self.client.build_request("POST", "chat/completions", json=body, headers=headers)
        try:
            response = self.client.send(request, stream=True)
        except httpx.RemoteProtocolError as exc:
            log.info("retrying on a fresh connection: %s", exc)
            response = self.client.send(request, stream=True)
        try:
            yield response
        finally:
            response.close()

    def _stats(
        self, conv: Conversation, usage: dict, pieces: int, started: float, first_at: float | None
    ) -> GenerationStats:
        details = usage.get("prompt_tokens_details") or {}
        return GenerationStats.timed(
            conv.frame_count(),
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or pieces),
            started,
            first_at,
            cached_tokens=int(details.get("cached_tokens") or 0),
        )

    def forget(self, session_prefix: str) -> None:
        """Nothing is kept here between turns (vLLM's prefix cache lives on the server)."""
