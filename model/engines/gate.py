"""Turns at the model: visitors in turn, each visitor's own requests first come first served.

Gradio's concurrency groups bound how many handlers run; this gate decides who uses the model
next. An answer holds a turn for its whole stream; a scan takes one per batch and gives it back
between batches, so a question asked during a long scan waits for one batch, not for the scan.
Waiters are served round-robin by owner (the visitor's address): a client with eight requests
waiting gets one turn, then every other waiting visitor gets theirs, so a flood from one client
delays others by one answer, not by the flood.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import count

from model.chat.conversation import Conversation
from model.engines.base import Finished, GenerationParams

POLL_S = 0.25  # how often a waiter looks whether it was stopped
WAITING = "Waiting for the model: another question or a scan is using it…"


def waiting_line(ahead: int, turn_s: float | None) -> str:
    """What a waiting visitor reads: their place in the line and, once turns have been timed, how long."""
    if ahead <= 0:
        return WAITING
    place = "1 request is" if ahead == 1 else f"{ahead} requests are"
    estimate = f" (about {max(1, round(ahead * turn_s))} s)" if turn_s else ""
    return f"Waiting for the model: {place} before yours{estimate}…"


GenerateFn = Callable[[Conversation, GenerationParams], Iterator[str | Finished]]


class ModelGate:
    """`slots` turns at once; waiting owners are served in turn, each owner's tickets in order."""

    def __init__(self, slots: int = 1) -> None:
        self.slots = max(1, slots)
        self._busy = 0
        self._waiting: OrderedDict[str, deque[int]] = OrderedDict()  # owners in the order they are served
        self._tickets = count()
        self._cond = threading.Condition()
        self._entered: dict[int, float] = {}  # when each turn now held began
        self.turn_s: float | None = None  # how long a turn lasts, a moving average

    def join(self, owner: str = "") -> int:
        """Take a place in the line of `owner`; returns the ticket to `enter` with."""
        with self._cond:
            ticket = next(self._tickets)
            self._waiting.setdefault(owner, deque()).append(ticket)
            return ticket

    def _next(self) -> int | None:
        """The ticket served next: the first of the owner whose turn it is."""
        for tickets in self._waiting.values():
            return tickets[0]
        return None

    def enter(self, ticket: int, timeout: float) -> bool:
        """Wait up to `timeout` s for the ticket's turn; True once it holds one (leave it afterwards)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not (self._busy < self.slots and self._next() == ticket):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            owner, tickets = next(iter(self._waiting.items()))
            tickets.popleft()
            del self._waiting[owner]
            if tickets:  # the owner's next request waits for everyone else's turn
                self._waiting[owner] = tickets
            self._busy += 1
            self._entered[ticket] = time.monotonic()
            return True

    def ahead(self, ticket: int) -> int:
        """Requests that will hold the model before `ticket` does: the turns held now, and the waiting
        ones served first in the round of owners."""
        with self._cond:
            rounds = [list(tickets) for tickets in self._waiting.values()]
        for owner_index, tickets in enumerate(rounds):
            if ticket in tickets:
                mine = tickets.index(ticket)
                before = sum(min(len(t), mine + (i < owner_index)) for i, t in enumerate(rounds))
                return self._busy + before
        return 0

    def leave(self, ticket: int, entered: bool) -> None:
        """Give the turn back (entered) or the place in the line (not yet)."""
        with self._cond:
            if entered:
                self._busy -= 1
                began = self._entered.pop(ticket, None)
                if began is not None:
                    took = time.monotonic() - began
                    self.turn_s = took if self.turn_s is None else 0.8 * self.turn_s + 0.2 * took
            else:
                for owner, tickets in list(self._waiting.items()):
                    if ticket in tickets:
                        tickets.remove(ticket)
                        if not tickets:
                            del self._waiting[owner]
            self._cond.notify_all()

    @contextmanager
    def turn(self, cancelled: Callable[[], bool] = lambda: False, owner: str = "") -> Iterator[bool]:
        """Hold a turn for the block; yields False (without one) when `cancelled` came first."""
        ticket, entered = self.join(owner), False
        try:
            while not entered:
                if cancelled():
                    break
                entered = self.enter(ticket, POLL_S)
            yield entered
        finally:
            self.leave(ticket, entered)

    @property
    def waiting(self) -> int:
        with self._cond:
            return sum(len(tickets) for tickets in self._waiting.values())


def queued(generate: GenerateFn, gate: ModelGate) -> GenerateFn:
    """`generate` taking its turn at the model first; while it waits the turn's progress line says
    so (empty pieces let the page show it), and a Stop ends the wait."""

    def run(conv: Conversation, params: GenerationParams) -> Iterator[str | Finished]:
        turn = conv.last
        ticket, entered = gate.join(conv.owner), False
        try:
            while not (entered := gate.enter(ticket, POLL_S)):
                if turn is None or turn.status == "stopped":
                    return
                line = waiting_line(gate.ahead(ticket), gate.turn_s)
                if turn.progress != line:
                    turn.progress = line
                    yield ""
            if turn is not None:
                turn.progress = ""
            yield from generate(conv, params)
        finally:
            gate.leave(ticket, entered)

    return run


def gated_describe(describe: Callable, gate: ModelGate) -> Callable:
    """A scan's batch describer taking a turn per batch; None (nothing described) when the scan is
    stopped while it waits."""

    def run(clips, question: str, params: GenerationParams, stop: threading.Event) -> list[str] | None:
        with gate.turn(cancelled=stop.is_set) as entered:
            return describe(clips, question, params, stop) if entered else None

    return run
