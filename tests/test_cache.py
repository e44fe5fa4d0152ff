"""Caching across turns: identical greedy answers with and without the cache, reuse, budgets."""

from __future__ import annotations

import threading

import pytest

from model.chat.budget import make_room, spread, thin_clip
from model.chat.conversation import Conversation
from model.chat.editing import retry_last, undo_last
from model.chat.options import MediaOptions
from model.chat.reading import add_turn
from model.chat.turns import start_session
from model.engines.answering import stream_answer
from model.engines.base import GenerationParams
from model.engines.kv_cache import CacheStore, SessionCache
from model.engines.transformers_engine import TransformersEngine

PARAMS = GenerationParams(max_new_tokens=10)
OPTIONS = MediaOptions(frames=4)


@pytest.fixture()
def cached(loaded_tiny):
    return TransformersEngine(loaded_tiny, CacheStore(1 << 30, 1 << 29))


@pytest.fixture()
def uncached(loaded_tiny):
    return TransformersEngine(loaded_tiny)


def answer(engine, conv, params=PARAMS):
    """Run the last turn to the end as the app does; returns the turn."""
    generate = lambda c, p: engine.stream(c, p, threading.Event())  # noqa: E731
    for _ in stream_answer(conv, params, engine, generate):
        pass
    return conv.last


def script(engine, video_path, image_path, short_video_path):
    """A multi-turn session with a retry, an undo, a stopped answer and mixed media."""
    conv = Conversation()
    start_session(conv, "tab")
    log = []

    def ask(text, files=()):
        add_turn(conv, text, [str(f) for f in files], OPTIONS)
        turn = answer(engine, conv)
        log.append((turn.answer_ids, turn.stats))

    ask("What happens?", [video_path])
    ask("And then?")
    retry_last(conv)
    log.append((answer(engine, conv).answer_ids, conv.last.stats))
    undo_last(conv)
    ask("Look at this picture.", [image_path])
    add_turn(conv, "Tell me more.", [], OPTIONS)  # an answer the user stopped:
    conv.last.answer, conv.last.status = " partial words", "stopped"  # only its text is known
    ask("Now this short clip.", [short_video_path])
    ask("Compare all of them.")
    return log


def test_greedy_answers_are_identical_with_and_without_the_cache(
    cached, uncached, video_path, image_path, short_video_path
):
    with_cache = script(cached, video_path, image_path, short_video_path)
    without = script(uncached, video_path, image_path, short_video_path)
    assert [ids for ids, _ in with_cache] == [ids for ids, _ in without]
    assert all(ids for ids, _ in with_cache)
    # every follow-up was served from the cache; without it nothing was
    assert all("cached" in stats for _, stats in with_cache[1:])
    assert not any("cached" in stats for _, stats in without)


def test_a_follow_up_prefills_only_the_new_turn(cached, video_path):
    conv = Conversation()
    start_session(conv, "tab")
    add_turn(conv, "What happens?", [str(video_path)], OPTIONS)
    first = answer(cached, conv)
    fed = len(first.prompt_ids) + len(first.answer_ids)
    add_turn(conv, "Why?", [], OPTIONS)
    steps = []
    hook = cached.model.model.language_model.register_forward_pre_hook(
        lambda mod, args, kwargs: steps.append(kwargs["inputs_embeds"].shape[1]), with_kwargs=True
    )
    try:
        answer(cached, conv)
    finally:
        hook.remove()
    new_tokens = len(conv.last.prompt_ids) + 1  # the new turn plus the last answer token not yet cached
    assert steps[0] == new_tokens and fed > 4 * 16
    assert f"{fed - 1:,} cached" in conv.last.stats


def test_vision_features_are_computed_once_per_media_item(cached, video_path, monkeypatch):
    calls = []
    encode = cached.encode
    monkeypatch.setattr(cached, "encode", lambda item: calls.append(item.key) or encode(item))
    conv = Conversation()
    start_session(conv, "tab")
    add_turn(conv, "What happens?", [str(video_path)], OPTIONS)
    answer(cached, conv)
    retry_last(conv)
    answer(cached, conv)
    conv.last.text = "A changed question?"  # an edit: same media, new words
    conv.last.prompt_ids = None
    retry_last(conv)
    answer(cached, conv)
    assert len(calls) == 1


def test_same_placeholders_for_other_media_are_not_reused(cached, uncached, video_path, short_video_path):
    """Two videos sampled to the same frame count give identical ids; the cache must tell them apart."""

    def run(engine):
        conv = Conversation()
        start_session(conv, "tab")
        add_turn(conv, "What happens?", [str(video_path)], MediaOptions(frames=3))
        answer(engine, conv)
        undo_last(conv)
        add_turn(conv, "What happens?", [str(short_video_path)], MediaOptions(frames=3))
        return answer(engine, conv).answer_ids

    assert run(cached) == run(uncached)


def test_clear_and_closed_tabs_free_the_cache(cached, video_path):
    conv = Conversation()
    start_session(conv, "tab-1")
    add_turn(conv, "What happens?", [str(video_path)], OPTIONS)
    answer(cached, conv)
    assert len(cached.cache) == 1 and cached.cache.nbytes() > 0
    cached.forget(conv.session_id)
    assert len(cached.cache) == 0 and cached.cache.nbytes() == 0


def test_store_keeps_budgets_and_evicts_least_recently_used(cached, video_path):
    conv = Conversation()
    start_session(conv, "a")
    add_turn(conv, "What happens?", [str(video_path)], OPTIONS)
    answer(cached, conv)
    entry = cached.cache.take(conv.session_id)
    size = entry.nbytes()
    store = CacheStore(total_bytes=int(size * 2.5), session_bytes=size)
    store.put("a", entry)
    store.put("b", SessionCache(ids=list(entry.ids), kv=entry.kv, features=dict(entry.features)))
    store.take("a") and store.put("a", entry)  # "a" used again: "b" is now the oldest
    store.put("c", SessionCache(ids=list(entry.ids), kv=entry.kv, features=dict(entry.features)))
    assert store.nbytes() <= store.total_bytes and store.evictions == 1
    assert store.take("b").kv is None and store.take("a").kv is not None
    small = CacheStore(total_bytes=size, session_bytes=entry.feature_bytes())
    small.put("x", entry)
    kept = small.take("x")
    assert kept.kv is None and kept.features  # over the session cap: the KV goes, features stay


def test_an_evicted_cache_is_rebuilt_transparently(cached, uncached, video_path):
    def run(engine, evict):
        conv = Conversation()
        start_session(conv, "tab")
        add_turn(conv, "What happens?", [str(video_path)], OPTIONS)
        answer(engine, conv)
        if evict:
            engine.forget(conv.session_id)
        add_turn(conv, "Why?", [], OPTIONS)
        turn = answer(engine, conv)
        return turn.answer_ids, turn.status

    assert run(cached, evict=True) == run(uncached, evict=False)


def test_make_room_thins_videos_to_a_floor_then_drops_old_media_then_thins_the_newest(video_path, image_path):
    conv = Conversation()
    add_turn(conv, "First", [str(image_path)], OPTIONS)
    conv.last.status, conv.last.answer, conv.last.prompt_ids = "done", "ok", [1, 2]
    add_turn(conv, "Second", [str(video_path)], MediaOptions(frames=8))
    note = make_room(conv, 100, tokens_per_frame=16)
    assert note.startswith("Used 4 of 8 frames of clip.mp4") and len(conv.videos()[0].timestamps) == 4
    note = make_room(conv, 100, tokens_per_frame=16)
    assert "picture.png" in note and conv.turns[0].media[0].dropped and conv.turns[0].prompt_ids is None
    assert len(conv.media()) == 1
    note = make_room(conv, 40, tokens_per_frame=16)
    assert note.startswith("Used 1 of 4 frames") and len(conv.videos()[0].timestamps) == 1
    assert make_room(conv, 10_000, tokens_per_frame=16) is None


def test_a_follow_up_about_one_video_keeps_that_video(video_path):
    """At the first overflow the conversation's only video keeps fewer frames; it is not dropped."""
    conv = Conversation()
    add_turn(conv, "What happens?", [str(video_path)], MediaOptions(frames=16))
    conv.last.status, conv.last.answer, conv.last.prompt_ids = "done", "ok", [1, 2]
    add_turn(conv, "And then?", [], OPTIONS)
    for _ in range(3):
        note = make_room(conv, 64, tokens_per_frame=16)
    assert note.startswith("Used 4 of 8 frames") and conv.videos() and conv.turns[0].prompt_ids is None
    assert not conv.turns[0].media[0].dropped and len(conv.turns[0].media[0].thumbnails) == 4
    assert "no longer fits" in make_room(conv, 64, tokens_per_frame=16)  # below the floor: dropped


def test_a_cache_over_the_session_limit_keeps_its_longest_prefix(loaded_tiny, video_path):
    engine = TransformersEngine(loaded_tiny, CacheStore(1 << 30, 1 << 29))
    conv = Conversation()
    start_session(conv, "crop")
    add_turn(conv, "What happens?", [str(video_path)], OPTIONS)
    answer(engine, conv)
    entry = engine.cache.take(conv.session_id)
    full, length = entry.kv_bytes(), entry.kv.get_seq_length()
    limit = entry.feature_bytes() + full * (length - 3) // length  # room for all but 3 tokens
    engine.cache = CacheStore(1 << 30, limit)
    engine.cache.put(conv.session_id, entry)
    kept = engine.cache.take(conv.session_id)
    assert kept.nbytes() <= limit and kept.features
    assert kept.kv.get_seq_length() == len(kept.ids) == length - 3
    assert all(
        layer.keys.untyped_storage().nbytes() == layer.keys.numel() * layer.keys.element_size()
        for layer in kept.kv.layers
    )  # the cropped memory is given back
    engine.cache.put(conv.session_id, kept)
    add_turn(conv, "Why?", [], OPTIONS)
    cropped = answer(engine, conv)
    assert f"({length - 3:,} cached)" in cropped.stats  # the follow-up prefilled only the rest


def test_prepare_turn_fits_the_context_and_says_so(loaded_tiny, video_path, monkeypatch):
    from model.engines.loading import LoadedModel

    monkeypatch.setattr(LoadedModel, "context_length", property(lambda self: 200))
    engine = TransformersEngine(loaded_tiny)
    conv = Conversation()
    add_turn(conv, "What happens?", [str(video_path)], MediaOptions(frames=16))
    notes = engine.prepare_turn(conv, GenerationParams(max_new_tokens=40))
    assert notes and "frames of clip.mp4" in notes[0]
    assert len(engine.tokenize(conv)) + 40 <= 200
    turn = answer(engine, conv, GenerationParams(max_new_tokens=40))
    assert turn.status == "done" and turn.answer_ids


def test_thin_clip_keeps_first_and_last_frames(video_path):
    from model.media.decode import sample_video

    clip = sample_video(str(video_path), 8, size=32)
    assert spread(8, 3) == [0, 4, 7] and spread(3, 5) == [0, 1, 2]
    thin = thin_clip(clip, spread(8, 3))
    assert thin.timestamps == [clip.timestamps[0], clip.timestamps[4], clip.timestamps[7]]
    assert (thin.frames == clip.frames[[0, 4, 7]]).all()


def test_context_length_applies_linear_rope_scaling():
    from types import SimpleNamespace

    from model.engines.loading import context_length

    hub_7b = SimpleNamespace(max_position_embeddings=4096, rope_parameters={"rope_type": "linear", "factor": 2.0})
    assert context_length(hub_7b) == 8192
    assert context_length(SimpleNamespace(max_position_embeddings=4096, rope_parameters=None)) == 4096
