"""The in-process transformers engine: a conversation in, streamed text out, stoppable.

It implements `model.engines.base.Engine`: `prepare_turn` tokenizes the new turn and makes the
conversation fit the context; `stream` runs `generate` in a worker thread and yields its text.
Setting `stop` ends generation itself, not only the display, within one step.

The conversation is kept as the token ids that were fed and generated. A follow-up reuses the
session's KV cache for the longest common prefix of ids and prefills only the rest; vision
features are computed once per media item and session.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import transformers
from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer
from transformers.modeling_outputs import BaseModelOutputWithPooling

from model.chat.budget import make_room
from model.chat.conversation import Conversation, MediaItem, segment_conversation, template_messages
from model.chat.limits import MediaSupport
from model.chat.plain import plain_text
from model.chat.prompt import turn_prompt_text
from model.engines.base import EngineError, Finished, GenerationParams, GenerationStats
from model.engines.families.family import frames_that_fit
from model.engines.kv_cache import CacheStore, SessionCache
from model.engines.loading import LoadedModel
from model.engines.zerogpu import on_zero_gpu
from model.media.clip import VideoClip
from model.serving.logs import summary

log = logging.getLogger(__name__)

MIN_ANSWER_TOKENS = 16  # fewer free positions than this and an answer is not worth starting
STREAM_TIMEOUT_S = 300.0  # a generate thread silent this long is treated as dead
MAX_FIT_STEPS = 64  # bound on the drop-media / thin-frames loop
# generate() takes and returns the KV cache as `cache` from transformers 5.24 on (`past_key_values` warns).
CACHE_ARG = "cache" if tuple(int(p) for p in transformers.__version__.split(".")[:2]) >= (5, 24) else "past_key_values"


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
        return torch.full((input_ids.shape[0],), self.stop.is_set(), dtype=torch.bool, device=input_ids.device)


@dataclass
class _Run:
    """One generate call's inputs and, once the worker is done, its outcome."""

    ids: list[int]
    reused: int
    entry: SessionCache
    kwargs: dict
    media_keys: list[str]
    run_starts: list[int]
    answer_ids: list[int] | None = None
    failure: BaseException | None = None


class TransformersEngine:
    """Runs `LlavaNextVideoForConditionalGeneration.generate` in a worker thread and streams it."""

    def __init__(self, loaded: LoadedModel, cache: CacheStore | None = None) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.processor = loaded.processor
        self.tokenizer = loaded.processor.tokenizer
        self.cache = cache if cache is not None else CacheStore(0, 0)
        self.description = loaded.description
        self.notice = loaded.notice
        self.needs_gpu = True
        self.family_name = loaded.family.name
        config, family, member = loaded.model.config, loaded.family, loaded.member
        self.tokens_per_frame = family.tokens_per_frame(config)
        self.media_token_ids = family.media_token_ids(config)
        self.stop_ids = family.stop_ids(member, self.tokenizer)
        fit = frames_that_fit(loaded.context_length, self.tokens_per_frame)  # the 34B's 4,096 positions: 24
        cpu_frames = member.cpu_frames if loaded.device == "cpu" else None
        self.media_support = MediaSupport(max_frames=min(member.max_frames or fit, fit), frames=cpu_frames)

    # ----- prompt: text and token ids -------------------------------------------------------

    def _render(self, messages: list[dict]) -> str:
        return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def render_prompt(self, conv: Conversation) -> str:
        """The whole prompt as text, rendered by the checkpoint's own chat template."""
        return self._render(template_messages(conv))

    def tokenize(self, conv: Conversation) -> list[int]:
        """Token ids of the conversation: kept ids where known, the rest tokenized now."""
        ids: list[int] = []
        turns = conv.context_turns()
        for i, turn in enumerate(turns):
            if turn.prompt_ids is None:
                turn.prompt_ids = self._turn_ids(conv, i)
        for i, turn in enumerate(turns):
            ids += turn.prompt_ids
            if i < len(turns) - 1:
                if turn.answer_ids is None:  # an answer known only as text (stopped, or another backend)
                    turn.answer_ids = self.tokenizer(plain_text(turn.answer), add_special_tokens=False)["input_ids"]
                ids += self.closed_answer(turn.answer_ids, turns[i + 1].prompt_ids)
        return ids

    def closed_answer(self, answer_ids: list[int], next_prompt: list[int]) -> list[int]:
        """An answer's ids before the next turn's: without its stop token when the template writes that
        token itself at the start of the next turn (ChatML's <|im_end|>, Mistral's </s>), so that it is
        there once; Vicuna's template writes none, and the generated </s> stays."""
        if answer_ids and next_prompt and answer_ids[-1] == next_prompt[0] and answer_ids[-1] in self.stop_ids:
            return answer_ids[:-1]
        return answer_ids

    def _turn_ids(self, conv: Conversation, index: int) -> list[int]:
        """Ids of one turn's prompt text, media placeholders expanded by the processor."""
        turn = conv.context_turns()[index]
        media = turn.context_media()
        images = [m.image for m in media if m.kind == "image"]
        videos = [m.clip.frames for m in media if m.kind == "video"]
        out = self.processor(
            text=turn_prompt_text(conv, index, self._render),
            images=images or None,
            videos=videos or None,
            add_special_tokens=index == 0,
            return_tensors=None,
        )
        return list(out["input_ids"][0])

    def answer_budget(self, prompt_tokens: int, params: GenerationParams) -> int:
        """New tokens that fit after the prompt; raises EngineError when too few fit."""
        room = self.loaded.context_length - prompt_tokens
        if room < MIN_ANSWER_TOKENS:
            raise EngineError(
                f"This conversation is too long for the model ({prompt_tokens:,} tokens of "
                f"{self.loaded.context_length:,}): press Clear, or ask with fewer frames."
            )
        return min(params.max_new_tokens, room)

    def prepare_turn(self, conv: Conversation, params: GenerationParams) -> list[str]:
        """Tokenize the new turn and fit the conversation into the context; returns notes for the user.

        Room is kept for the answer (the max new tokens asked for, at most half the context). When
        the prompt does not fit, the oldest media leaves the context first, then the newest video
        keeps fewer frames.
        """
        context = self.loaded.context_length
        reserve = max(MIN_ANSWER_TOKENS, min(params.max_new_tokens, context // 2))
        notes: list[str] = []
        for _ in range(MAX_FIT_STEPS):
            overflow = len(self.tokenize(conv)) + reserve - context
            if overflow <= 0:
                return notes
            note = make_room(conv, overflow, self.tokens_per_frame)
            if note is None:
                break
            notes.append(note)
        prompt = len(self.tokenize(conv))
        if prompt + MIN_ANSWER_TOKENS <= context:  # nothing left to cut: a shorter answer still fits
            notes.append(
                f"Room is left for only {context - prompt:,} new tokens in the model's context; "
                "press Clear for longer answers."
            )
            return notes
        raise EngineError(self.overflow_message(conv, prompt))

    def overflow_message(self, conv: Conversation, prompt: int) -> str:
        """Why a conversation cut to the bone still does not fit, with the remedy that fits the case."""
        context = self.loaded.context_length
        head = f"This message does not fit in the model's context ({prompt:,} tokens of {context:,})"
        last = conv.context_turns()[-1]
        images = [m for m in last.context_media() if m.kind == "image"]
        if images:
            ids = last.prompt_ids or []
            image_tokens = sum(t == self.media_token_ids["image"] for t in ids)
            return (
                f"{head}: its {len(images)} image(s) alone take {image_tokens:,} tokens. "
                "Attach fewer images in one message, or press Clear."
            )
        question = len(self.tokenizer(plain_text(last.text), add_special_tokens=False)["input_ids"])
        if question >= prompt + MIN_ANSWER_TOKENS - context:  # a shorter question would fit
            return f"{head}: the question alone takes {question:,} tokens. Ask a shorter question."
        return f"{head} even with the least media. Press Clear to start a new conversation."

    # ----- vision features ------------------------------------------------------------------

    def _pixels(self, values) -> torch.Tensor:
        return torch.as_tensor(values).to(self.loaded.device, self.loaded.dtype)

    def encode(self, item: MediaItem):
        """Projected vision features of one media item, as the model's forward takes them."""
        with torch.inference_mode():
            if item.kind == "video":
                pixels = self.processor.video_processor(videos=[item.clip.frames], return_tensors="pt")
                out = self.model.get_video_features(
                    pixel_values_videos=self._pixels(pixels["pixel_values_videos"]), return_dict=True
                )
                return out.pooler_output[0]
            pixels = self.processor.image_processor(images=[item.image], return_tensors="pt")
            out = self.model.get_image_features(
                pixel_values=self._pixels(pixels["pixel_values"]),
                image_sizes=pixels["image_sizes"].to(self.loaded.device),
                return_dict=True,
            )
            return out.pooler_output[0]

    def media_runs(self, conv: Conversation, ids: list[int]) -> list[tuple[int, MediaItem]]:
        """(start position, media item) of every run of placeholder tokens in `ids`, in order."""
        runs = []
        for kind, token in self.media_token_ids.items():
            items = [m for m in conv.media() if m.kind == kind]
            starts = [i for i, t in enumerate(ids) if t == token and (i == 0 or ids[i - 1] != token)]
            if len(starts) != len(items):
                raise EngineError("The prompt and the media got out of step; press Clear and start over.")
            runs += zip(starts, items)
        return sorted(runs, key=lambda run: run[0])

    @staticmethod
    def reusable_prefix(entry: SessionCache, ids: list[int], runs: list[tuple[int, MediaItem]]) -> int:
        """Ids the session's KV cache can serve: the common prefix of ids and media, never ending
        inside a media run, always leaving at least one id to feed."""
        if entry.kv is None:
            return 0
        n, limit = 0, min(len(entry.ids), len(ids) - 1)
        while n < limit and entry.ids[n] == ids[n]:
            n += 1
        for j, (start, item) in enumerate(runs):
            if start >= n:
                break
            same_media = j < len(entry.media_keys) and entry.media_keys[j] == item.key
            run_end = start + 1
            while run_end < len(ids) and ids[run_end] == ids[start]:
                run_end += 1
            if not same_media or n < run_end:
                return start  # other media, or a run cut in the middle: recompute from its start
        return n

    def _tail_features(self, runs: list[tuple[int, MediaItem]], reused: int, entry: SessionCache) -> dict:
        """mm_encoder_outputs for the media whose placeholders the KV cache does not serve."""
        features: dict[str, list] = {}
        for start, item in runs:
            if start < reused:
                continue
            if item.key not in entry.features:
                entry.features[item.key] = self.encode(item)
            features.setdefault(item.kind, []).append(entry.features[item.key])
        family = self.loaded.family
        return {
            kind: BaseModelOutputWithPooling(pooler_output=family.encoder_output(kind, f))
            for kind, f in features.items()
        }

    # ----- many segments at once (a scan) ---------------------------------------------------

    def describe(
        self, clips: list[VideoClip], question: str, params: GenerationParams, stop: threading.Event | None = None
    ) -> list[str]:
        """One answer per clip to the same question, generated together in one left-padded batch."""
        rows = [self.tokenize(segment_conversation(clip, question)) for clip in clips]
        longest = max(len(row) for row in rows)
        pad = self.tokenizer.pad_token_id
        device = self.loaded.device
        ids = torch.tensor([[pad] * (longest - len(row)) + row for row in rows], device=device)
        mask = torch.tensor([[0] * (longest - len(row)) + [1] * len(row) for row in rows], device=device)
        pixels = self.processor.video_processor(videos=[clip.frames for clip in clips], return_tensors="pt")
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=ids,
                attention_mask=mask,
                pixel_values_videos=self._pixels(pixels["pixel_values_videos"]),
                max_new_tokens=self.answer_budget(longest, params),
                pad_token_id=pad,
                eos_token_id=self.stop_ids,
                stopping_criteria=StoppingCriteriaList([_StopAndCount(stop or threading.Event())]),
                suppress_tokens=sorted(self.media_token_ids.values()),
                **sampling_kwargs(params),
            )
        return self.tokenizer.batch_decode(out[:, longest:], skip_special_tokens=True)

    def scan_batch(self, frames_per_segment: int, new_tokens: int, limit: int = 16) -> int:
        """Segments per `describe` call: on a GPU as many as half its free memory holds (KV cache and
        vision activations of each), on ZeroGPU 64 frames' worth, on a CPU 4 (more only shares the
        same cores)."""
        if self.loaded.device != "cuda":
            return 4
        if on_zero_gpu():  # CUDA exists only inside a GPU call there: a fixed batch, 64 frames a call
            return max(1, 64 // frames_per_segment)
        text, vision = self.model.config.text_config, self.model.config.vision_config
        size = torch.finfo(self.loaded.dtype).bits // 8
        tokens = frames_per_segment * self.tokens_per_frame + 64 + new_tokens
        kv = 2 * text.num_hidden_layers * text.hidden_size * tokens * size
        patches = (vision.image_size // vision.patch_size) ** 2 + 1
        activations = 2 * frames_per_segment * patches * vision.intermediate_size * size
        free, _ = torch.cuda.mem_get_info()
        return max(1, min(limit, int(free * 0.5 // (kv + activations))))

    # ----- generation -----------------------------------------------------------------------

    def stream(self, conv: Conversation, params: GenerationParams, stop: threading.Event) -> Iterator[str | Finished]:
        """Yield the answer's text pieces, then Finished with its stats and ids."""
        started = time.perf_counter()
        ids = self.tokenize(conv)
        max_new = self.answer_budget(len(ids), params)
        use_cache = bool(self.cache.enabled and conv.keep_cache and conv.session_id)
        entry = self.cache.take(conv.session_id) if use_cache else SessionCache()
        try:
            runs = self.media_runs(conv, ids)
            reused = self.reusable_prefix(entry, ids, runs)
            entry.crop(reused)
            mm = self._tail_features(runs, reused, entry)
        except Exception:
            self._keep(conv, entry, use_cache)
            raise
        counter = _StopAndCount(stop)
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=STREAM_TIMEOUT_S
        )
        device = self.loaded.device
        kwargs = dict(
            input_ids=torch.tensor([ids], device=device),
            attention_mask=torch.ones((1, len(ids)), dtype=torch.long, device=device),
            max_new_tokens=max_new,
            streamer=streamer,
            return_dict_in_generate=True,
            stopping_criteria=StoppingCriteriaList([counter]),
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.stop_ids,
            **sampling_kwargs(params),
            # a generated <image>/<video> would be a placeholder without media in every later turn
            suppress_tokens=sorted(self.media_token_ids.values()),
        )
        kwargs[CACHE_ARG] = entry.kv if reused else None
        run = _Run(
            ids=ids,
            reused=reused,
            entry=entry,
            kwargs=kwargs,
            media_keys=[m.key for _, m in runs],
            run_starts=[start for start, _ in runs],
        )
        if mm:
            kwargs["mm_encoder_outputs"] = mm
        worker = threading.Thread(
            target=self._generate, args=(run, streamer, conv, use_cache), name="generate", daemon=True
        )
        worker.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
            worker.join()
            if run.failure is not None:
                raise EngineError(describe_failure(run.failure)) from run.failure
            stats = self._stats(conv, len(ids), reused, counter, started, stop.is_set())
            yield Finished(stats=stats, answer_ids=run.answer_ids)
        finally:
            stop.set()  # a closed consumer (Stop, disconnect) ends generate at its next step

    def _generate(self, run: _Run, streamer: TextIteratorStreamer, conv: Conversation, use_cache) -> None:
        """Thread body: generate, then keep the session's cache; always release the streamer."""
        try:
            with torch.inference_mode():
                out = self.model.generate(**run.kwargs)
            sequence = out.sequences[0].tolist()
            run.answer_ids = sequence[len(run.ids) :]
            run.entry.kv = getattr(out, CACHE_ARG)
            run.entry.ids = sequence[: run.entry.kv.get_seq_length()]
            run.entry.media_keys = [k for k, s in zip(run.media_keys, run.run_starts) if s < len(run.entry.ids)]
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            log.error("generate failed: %s", summary(exc))
            run.failure = exc
            run.entry.kv, run.entry.ids = None, []
            streamer.end()
        finally:
            self._keep(conv, run.entry, use_cache)

    def _keep(self, conv: Conversation, entry: SessionCache, use_cache) -> None:
        if use_cache:
            self.cache.put(conv.session_id, entry)

    def forget(self, session_prefix: str) -> None:
        """Free the caches of a session (Clear, a closed tab, an expired state)."""
        self.cache.forget(session_prefix)

    def _stats(
        self, conv: Conversation, prompt_tokens: int, reused: int, counter: _StopAndCount, started: float, stopped: bool
    ) -> GenerationStats:
        return GenerationStats.timed(
            conv.frame_count(),
            prompt_tokens,
            counter.steps,
            started,
            counter.first_token_at,
            cached_tokens=reused,
            stopped=stopped,
        )


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
