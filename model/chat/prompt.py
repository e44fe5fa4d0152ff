"""The text one turn adds to the prompt, cut from the checkpoint's own chat template.

The conversation is kept as token ids as they were fed and generated; a new turn only adds the
ids of its own text. That text is whatever the template puts between the previous answer and the
generation prompt, found by rendering earlier answers as a sentinel and cutting after the last one.
"""

from __future__ import annotations

from collections.abc import Callable

from model.chat.conversation import Conversation, template_messages

SENTINEL = "\u2063ANSWER\u2063"  # never typed by users; marks where an earlier answer stands
Render = Callable[[list[dict]], str]


def turn_prompt_text(conv: Conversation, index: int, render: Render) -> str:
    """Prompt text of context turn `index`: glue after the previous answer, media, question, 'ASSISTANT:'.

    For the first turn this is the whole prompt (system prompt included); for later ones it starts
    right after the previous answer. `render` applies the chat template with a generation prompt.
    """
    turns = conv.context_turns()[: index + 1]
    view = Conversation(turns=turns, system_prompt=conv.system_prompt)
    text = render(template_messages(view, answers=[SENTINEL] * index))
    if index == 0:
        return text
    cut = text.rfind(SENTINEL)
    if cut < 0:
        raise ValueError("the chat template dropped an assistant turn")
    return text[cut + len(SENTINEL) :]
