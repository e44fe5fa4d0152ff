"""The chat's edits of a conversation: Stop's mark, Retry, Undo."""

from __future__ import annotations

from model.chat.conversation import Conversation, Turn


def mark_stopped(conv: Conversation) -> None:
    """Mark an answer still being written as stopped (the Stop button's bookkeeping)."""
    turn = conv.last
    if turn is not None and turn.status == "pending":
        turn.status = "stopped"


def retry_last(conv: Conversation) -> bool:
    """Clear the last answer so it can be generated again; False when there is nothing to retry."""
    turn = conv.last
    if turn is None or turn.rejected:
        return False
    turn.reset_answer()
    turn.notes = [n for m in turn.media if m.clip is not None for n in m.clip.notes]
    return True


def undo_last(conv: Conversation) -> Turn | None:
    """Remove the last turn and return it (its text and files go back to the input box)."""
    if not conv.turns:
        return None
    turn = conv.turns.pop()
    for item in turn.media:
        conv.remove_frames(item)
    return turn
