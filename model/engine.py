"""The in-process transformers engine: a conversation in, streamed text out, stoppable.

Any backend implements `Engine.stream(conversation, params, stop)`: it yields text pieces as the
answer grows, then one `GenerationStats`. Setting `stop` ends generation itself (not only the
display) within one decoding step.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import torch
from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer
from transformers.modeling_outputs import BaseModelOutputWithPooling

from model.conversation import Conversation, template_messages
from model.loading import LoadedModel

log = logging.getLogger(__name__)

TOKENS_PER_FRAME = 144  # LLaVA-NeXT-Video: 24x24 CLIP patches average-pooled to 12x12
MIN_ANSWER_TOKENS = 16  # fewer free positions than this and an answer is not worth starting
STREAM_TIMEOUT_S = 300.0  # a generate thread silent this long is treated as dead


class EngineError(RuntimeError):
    """Generation cannot go on; the message is one sentence fit for the chat."""


@dataclass(frozen=True)
class GenerationParams:
    """How to decode: answer length and sampling (temperature 0 is greedy)."""

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 0.9


@dataclass(frozen=True)
class GenerationStats:
    """What one answer cost: sizes and speed."""

    frames: int
    prompt_tokens: int
    new_tokens: int
    ttft_s: float
    tokens_per_s: float
    stopped: bool = False

    def line(self) -> str:
        """'16 frames · 2,410 prompt tokens · 87 new · first token 1.20 s · 24.1 tok/s'."""
        return (f"{self.frames} frames · {self.prompt_tokens:,} prompt tokens · "
                f"{self.new_tokens} new · first token {self.ttft_s:.2f} s · "
                f"{self.tokens_per_s:.1f} tok/s")


class Engine(Protocol):
    """What the UI needs from a backend."""

    description: str
    notice: str | None

    def stream(self, conv: Conversation, params: GenerationParams,
               stop: threading.Event) -> Iterator[str | GenerationStats]: ...


class _StopAndCount(StoppingCriteria):
    """Stops `generate` when the event is set; records when the first token came and how many."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.steps = 0
        self.first_token_at: float | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        self.steps += 1
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        return torch.full((input_ids.shape[0],), self.stop.is_set(), dtype=torch.bool,
                          device=input_ids.device)


class TransformersEngine:
    """Runs `LlavaNextVideoForConditionalGeneration.generate` in a worker thread and streams it."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.processor = loaded.processor
        self.description = loaded.description
        self.notice = loaded.notice

    def render_prompt(self, conv: Conversation) -> str:
        """The prompt text, rendered by the checkpoint's own chat template."""
        return self.processor.apply_chat_template(template_messages(conv), add_generation_prompt=True,
                                                  tokenize=False)

    def prepare(self, conv: Conversation) -> dict:
        """generate() inputs: prompt ids and the vision features of every image and video.

        Each media item is encoded on its own, so videos with different frame counts (and images
        of different shapes) can share one prompt.
        """
        videos, images = conv.videos(), conv.images()
        processed = self.processor(text=self.render_prompt(conv), images=images or None,
                                   videos=videos_as_arrays(videos) or None, return_tensors=None)
        device = self.loaded.device
        inputs = {"input_ids": torch.tensor(processed["input_ids"], device=device),
                  "attention_mask": torch.tensor(processed["attention_mask"], device=device)}
        encoded = {}
        with torch.inference_mode():
            if images:
                features = [self._encode_image(pv, size) for pv, size
                            in zip(processed["pixel_values"], processed["image_sizes"])]
                encoded["image"] = BaseModelOutputWithPooling(pooler_output=[f for fs in features for f in fs])
            if videos:
                features = [self._encode_video(pv) for pv in processed["pixel_values_videos"]]
                encoded["video"] = BaseModelOutputWithPooling(pooler_output=features)
        if encoded:
            inputs["mm_encoder_outputs"] = encoded
        return inputs

    def _pixels(self, values) -> torch.Tensor:
        return torch.as_tensor(values).to(self.loaded.device, self.loaded.dtype)

    def _encode_image(self, pixel_values, image_size) -> list[torch.Tensor]:
        """Projected features of one image (its anyres patches packed with newlines)."""
        sizes = torch.as_tensor([list(image_size)], device=self.loaded.device)
        out = self.model.get_image_features(pixel_values=self._pixels(pixel_values)[None],
                                            image_sizes=sizes, return_dict=True)
        return list(out.pooler_output)

    def _encode_video(self, pixel_values_video) -> torch.Tensor:
        """Projected, pooled features of one video: (frames * tokens per frame, hidden)."""
        out = self.model.get_video_features(pixel_values_videos=self._pixels(pixel_values_video)[None],
                                            return_dict=True)
        return out.pooler_output[0]

    def answer_budget(self, prompt_tokens: int, params: GenerationParams) -> int:
        """New tokens that fit after the prompt; raises EngineError when too few fit."""
        room = self.loaded.context_length - prompt_tokens
        if room < MIN_ANSWER_TOKENS:
            raise EngineError(
                f"This conversation is too long for the model ({prompt_tokens:,} tokens of "
                f"{self.loaded.context_length:,}): press Clear, or ask with fewer frames.")
        return min(params.max_new_tokens, room)

    def stream(self, conv: Conversation, params: GenerationParams,
               stop: threading.Event) -> Iterator[str | GenerationStats]:
        """Yield the answer's text pieces, then its GenerationStats."""
        started = time.perf_counter()
        inputs = self.prepare(conv)
        prompt_tokens = int(inputs["input_ids"].shape[1])
        max_new = self.answer_budget(prompt_tokens, params)
        counter = _StopAndCount(stop)
        streamer = TextIteratorStreamer(self.processor.tokenizer, skip_prompt=True,
                                        skip_special_tokens=True, timeout=STREAM_TIMEOUT_S)
        kwargs = dict(inputs, max_new_tokens=max_new, streamer=streamer,
                      stopping_criteria=StoppingCriteriaList([counter]),
                      pad_token_id=self.processor.tokenizer.pad_token_id,
                      **sampling_kwargs(params))
        failure: list[BaseException] = []
        worker = threading.Thread(target=self._generate, args=(kwargs, streamer, failure),
                                  name="generate", daemon=True)
        worker.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
            worker.join()
            if failure:
                raise EngineError(describe_failure(failure[0])) from failure[0]
            yield self._stats(conv, prompt_tokens, counter, started, stop.is_set())
        finally:
            stop.set()  # a closed consumer (Stop, disconnect) ends generate at its next step

    def _generate(self, kwargs: dict, streamer: TextIteratorStreamer, failure: list) -> None:
        """Thread body: run generate, keep its exception, always release the streamer."""
        try:
            with torch.inference_mode():
                self.model.generate(**kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            log.exception("generate failed")
            failure.append(exc)
            streamer.end()

    @staticmethod
    def _stats(conv: Conversation, prompt_tokens: int, counter: _StopAndCount, started: float,
               stopped: bool) -> GenerationStats:
        first = counter.first_token_at or time.perf_counter()
        decode_s = max(time.perf_counter() - first, 1e-6)
        new_tokens = counter.steps
        return GenerationStats(
            frames=sum(len(c.timestamps) for c in conv.videos()), prompt_tokens=prompt_tokens,
            new_tokens=new_tokens, ttft_s=first - started,
            tokens_per_s=(new_tokens - 1) / decode_s if new_tokens > 1 else 0.0, stopped=stopped)


def videos_as_arrays(clips) -> list:
    """Frames of each clip as the (T, H, W, 3) uint8 arrays the video processor takes."""
    return [clip.frames for clip in clips]


def sampling_kwargs(params: GenerationParams) -> dict:
    """generate() arguments for greedy (temperature 0) or nucleus sampling."""
    if params.temperature <= 0:
        return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    return {"do_sample": True, "temperature": params.temperature, "top_p": params.top_p, "top_k": None}


def describe_failure(exc: BaseException) -> str:
    """A chat-ready sentence for an exception raised inside generate."""
    if isinstance(exc, torch.OutOfMemoryError):
        return "The GPU ran out of memory for this request: use fewer frames or a shorter answer."
    return "The model failed while answering; please try again, or press Clear and start over."
