"""Text a visitor typed, made to reach the model as text and nothing else.

Tokenizers split special tokens out of any text they are given: `<video>` typed into a question
would become a media placeholder without media, `</s>` the end of a turn, `<|im_end|>` the same in
ChatML. The prompt builder's own sentinel (`model/chat/prompt.py`) must not be typeable either.
`plain_text` breaks every such marker with an invisible zero-width space after its `<`, so the
tokenizer reads its characters as ordinary text, and drops the sentinel's invisible separator.
"""

from __future__ import annotations

import re

ZERO_WIDTH_SPACE = "\u200b"
INVISIBLE_SEPARATOR = "\u2063"  # the prompt builder's sentinel is made of it
# <video>, <image>, <s>, </s>, <unk>, <|im_start|>, <|im_end|>, <|endoftext|>, <pad>, ...
MARKER = re.compile(r"<(?=/?\|?[A-Za-z_][A-Za-z0-9_|.-]{0,40}>)")


def plain_text(text: str) -> str:
    """`text` with no special-token marker and no sentinel left in it; the same when it has none."""
    if "<" not in text and INVISIBLE_SEPARATOR not in text:
        return text
    return MARKER.sub("<" + ZERO_WIDTH_SPACE, text.replace(INVISIBLE_SEPARATOR, ""))
