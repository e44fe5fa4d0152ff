"""Checkpoint families, one adapter module each (family.py says what an adapter answers).

Adding a family is one module here, registered in FAMILIES, and its tests.
"""

from __future__ import annotations

from model.engines.families.family import Family
from model.engines.families.llava_next_video import FAMILY as LLAVA_NEXT_VIDEO
from model.engines.families.llava_onevision import FAMILY as LLAVA_ONEVISION

FAMILIES: tuple[Family, ...] = (LLAVA_NEXT_VIDEO, LLAVA_ONEVISION)


class UnknownFamily(ValueError):
    """A checkpoint of no family this demo serves."""


def family_for(config) -> Family:
    """The adapter of a checkpoint's family, by its config's model_type."""
    for family in FAMILIES:
        if config.model_type == family.model_type:
            return family
    served = ", ".join(f"{f.name} ({f.model_type})" for f in FAMILIES)
    raise UnknownFamily(f"this demo serves {served}; the checkpoint is a '{config.model_type}'")
