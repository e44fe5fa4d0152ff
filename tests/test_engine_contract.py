"""Both backends implement the whole `Engine` protocol, with the protocol's parameters."""

from __future__ import annotations

import inspect

import pytest

from model.engines.base import Engine
from model.engines.transformers_engine import TransformersEngine
from model.engines.vllm_engine import VLLMEngine

METHODS = [name for name, value in vars(Engine).items() if inspect.isfunction(value) and not name.startswith("_")]


def test_the_protocol_names_what_the_page_calls():
    assert {"prepare_turn", "stream", "describe", "scan_batch", "forget"} <= set(METHODS)


@pytest.mark.parametrize("backend", [TransformersEngine, VLLMEngine])
@pytest.mark.parametrize("name", METHODS)
def test_a_backend_has_each_method_with_the_protocols_parameters(backend, name):
    expected = list(inspect.signature(getattr(Engine, name)).parameters)
    assert list(inspect.signature(getattr(backend, name)).parameters) == expected
