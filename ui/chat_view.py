"""The conversation as the Chatbot's value: text and files as they are, frame strips as HTML."""

from __future__ import annotations

from model.conversation import Conversation, FrameStrip, chatbot_messages
from ui.strips import strip_message


def render_chat(conv: Conversation) -> list[dict]:
    """Chatbot messages; earlier messages come out identical each time, so streaming sends diffs."""
    return [{**m, "content": strip_message(m["content"])} if isinstance(m["content"], FrameStrip) else m
            for m in chatbot_messages(conv)]
