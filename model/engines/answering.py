"""An answer streamed into the conversation's last turn: the engine prepares the turn, the GPU entry
point generates, and the turn fills as the pieces come (a stop, a closed tab or a failure leaves it
marked for what it is)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from model.chat.conversation import Conversation
from model.engines.base import Engine, EngineError, Finished, GenerationParams
from model.serving.logs import summary

log = logging.getLogger(__name__)

EMPTY_ANSWER = "The model ended its answer without writing anything: press Retry, or ask in other words."
RENDER_INTERVAL_S = 0.1  # at most 10 chat updates a second: rendering must keep up with the model

GenerateFn = Callable[[Conversation, GenerationParams], Iterator[str | Finished]]


def stream_answer(
    conv: Conversation,
    params: GenerationParams,
    engine: Engine,
    generate: GenerateFn,
    render_every_s: float = RENDER_INTERVAL_S,
) -> Iterator[Conversation]:
    """Fill the last turn's answer, yielding the conversation as it grows (at most once per
    `render_every_s`: pieces that come faster go out together, so the page keeps up with the model).

    `engine.prepare_turn` tokenizes and fits the context first (on the CPU); `generate` (the GPU
    entry point) streams the answer. Closing this generator (Stop, a closed tab) closes `generate`
    too, which stops the model, and leaves the partial answer marked as stopped.
    """
    turn = conv.last
    if turn is None or turn.status != "pending":
        return
    if not conv.media():
        kinds = "video or image" if engine.media_support.images else "video"
        turn.notes.append(f"No {kinds} yet: the answer uses the text alone.")
    stream = None
    try:
        turn.notes.extend(engine.prepare_turn(conv, params))
        yield conv
        stream = generate(conv, params)
        shown_at = 0.0
        for item in stream:
            if turn.status == "stopped":  # Stop pressed: mark_stopped ran in another handler
                break
            if isinstance(item, Finished):
                turn.stats = item.stats.line()
                turn.answer_ids = item.answer_ids
            else:
                turn.answer += item
            if time.monotonic() - shown_at >= render_every_s:
                shown_at = time.monotonic()
                yield conv
        else:
            if turn.status == "pending":  # a Stop that came after the last piece keeps its mark
                turn.status = "done"
                if not turn.answer.strip():  # the model's first token ended the answer
                    turn.notes.append(EMPTY_ANSWER)
    except EngineError as exc:
        turn.status = "error"
        turn.warn(str(exc))
    except GeneratorExit:
        turn.status = "stopped"
        raise
    except Exception as exc:  # noqa: BLE001 - no traceback reaches a user (or the log: it may quote them)
        log.error("answer failed: %s", summary(exc))
        turn.status = "error"
        turn.warn("Something went wrong while answering; please try again.")
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    yield conv
