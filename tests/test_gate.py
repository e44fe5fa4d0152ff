"""The model gate: turns at the model in the order they were asked for."""

from __future__ import annotations

import threading
import time

from model.chat.conversation import Conversation, Turn
from model.engines.base import GenerationParams
from model.engines.gate import WAITING, ModelGate, gated_describe, queued, waiting_line


def test_turns_go_in_the_order_they_were_asked_for():
    gate, order = ModelGate(1), []
    first = gate.join()
    assert gate.enter(first, 0.1)
    waiters = []
    for name in "abc":
        ticket = gate.join()
        worker = threading.Thread(
            target=lambda t=ticket, n=name: (gate.enter(t, 5), order.append(n), gate.leave(t, True))
        )
        worker.start()
        waiters.append(worker)
    # the order is the tickets' (taken above, in this thread), not the threads': nothing to wait for
    assert order == [] and gate.waiting == 3
    gate.leave(first, True)
    for worker in waiters:
        worker.join(5)
    assert order == ["a", "b", "c"] and gate.waiting == 0


def test_a_scan_gives_the_model_to_a_waiting_question_between_batches(wait_until):
    """A question that arrives while a batch runs is served before the scan's next batch."""
    gate, log, got = ModelGate(1), [], []
    stop, batch_runs, release = threading.Event(), threading.Event(), threading.Event()

    def describe(clips, question, params, stop):
        log.append("batch")
        batch_runs.set()
        release.wait(5)  # the first batch holds the model until the question waits for it
        return ["x"] * len(clips)

    def generate(conv, params):
        log.append("answer")
        yield "ok"

    scan_describe = gated_describe(describe, gate)
    scanner = threading.Thread(target=lambda: [scan_describe([1], "q", GenerationParams(), stop) for _ in range(4)])
    scanner.start()
    assert batch_runs.wait(5)
    conv = Conversation(turns=[Turn(text="q")])
    asker = threading.Thread(target=lambda: got.extend(queued(generate, gate)(conv, GenerationParams())))
    asker.start()
    assert wait_until(lambda: gate.waiting == 1, 5)  # the question waits at the gate
    release.set()
    asker.join(5)
    scanner.join(5)
    assert got in (["", "ok"], ["ok"])
    assert log[:3] == ["batch", "answer", "batch"], log


def test_stop_ends_a_wait_and_says_so_meanwhile():
    gate = ModelGate(1)
    holder = gate.join()
    gate.enter(holder, 0.1)
    conv = Conversation(turns=[Turn(text="q")])
    stream = queued(lambda c, p: iter(["never"]), gate)(conv, GenerationParams())
    assert next(stream) == "" and conv.last.progress == "Waiting for the model: 1 request is before yours…"
    conv.last.status = "stopped"
    assert list(stream) == [] and gate.waiting == 0
    stop = threading.Event()
    stop.set()
    assert gated_describe(lambda *a: ["x"], gate)([1], "q", GenerationParams(), stop) is None
    gate.leave(holder, True)
    assert gate.enter(gate.join(), 0.1)


def test_visitors_take_turns_whatever_one_of_them_has_waiting():
    """Before, first come first served: one client with eight questions waiting held the model for all
    eight while every other visitor waited. Now owners are served in turn."""
    gate, order = ModelGate(1), []
    holder = gate.join("someone")
    assert gate.enter(holder, 0.1)
    tickets = [(name, gate.join(owner)) for name, owner in [("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b")]]
    tickets.append(("c1", gate.join("c")))
    workers = []
    for name, ticket in tickets:
        worker = threading.Thread(
            target=lambda t=ticket, n=name: (gate.enter(t, 5), order.append(n), gate.leave(t, True))
        )
        worker.start()
        workers.append(worker)
    gate.leave(holder, True)
    for worker in workers:
        worker.join(5)
    assert order == ["a1", "b1", "c1", "a2", "a3"]


def test_a_waiting_visitor_reads_their_place_and_an_estimate():
    gate = ModelGate(1)
    first = gate.join("a")
    assert gate.enter(first, 0.1)
    time.sleep(0.05)
    gate.leave(first, True)  # one timed turn
    holder = gate.join("a")
    assert gate.enter(holder, 0.1)
    mine_1, mine_2, other = gate.join("a"), gate.join("a"), gate.join("b")
    assert [gate.ahead(t) for t in (mine_1, other, mine_2)] == [1, 2, 3]  # the round: a, b, then a again
    assert waiting_line(0, None) == WAITING
    assert waiting_line(2, None) == "Waiting for the model: 2 requests are before yours…"
    assert waiting_line(2, gate.turn_s) == "Waiting for the model: 2 requests are before yours (about 1 s)…"
