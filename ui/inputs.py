"""The app's inputs as programs see them: a file URL in a request resolved by the app's rules
(model/media/remote.py) instead of gradio's unbounded fetch; the API page's descriptions and
examples real.

A client may send any input's file as `{"path": "https://…"}` instead of uploading it; gradio then
downloads it (public hosts only) into memory with no size or time bound. Every input that takes
files is one of the classes below: the page's own inputs refuse URLs (the page uploads), the API's
files resolve them under the app's policy, and the app's own file URLs work on loopback too (an MCP
agent hands over the URL its upload returned).

Classes, not per-instance patches: gradio rebuilds a component from its class when a handler
updates it. gradio writes the classes' type stubs to `inputs.pyi` (committed, so nothing is written
at start).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gradio as gr
from gradio.data_classes import ListFiles
from gradio.utils import get_function_description
from pydantic import model_validator

from model.media.remote import OWN_FILE_ROUTE, RemoteFiles
from ui.gradio_internals import ResolvesUrls

FILE_META = {"_type": "gradio.FileData"}


class ChatInput(ResolvesUrls, gr.MultimodalTextbox):
    """The chat's question box (its files are uploads; a URL is refused)."""


class CameraInput(ResolvesUrls, gr.Image):
    """The live camera's pictures (never a URL)."""


class ProgramFiles(ResolvesUrls, gr.File):
    """A file parameter of /ask or /scan: files by upload, by the app's own URL or by public URL."""


class UrlsOrFiles(ListFiles):
    """gradio's list of files that also takes bare URL strings.

    gradio's MCP server turns a tool's string into a file only for a single-file parameter, never for
    the items of a list: without this, `ask(files=[url])` fails in validation.
    """

    @model_validator(mode="before")
    @classmethod
    def _urls_as_files(cls, data):
        if isinstance(data, list):
            return [{"path": item, "meta": FILE_META} if isinstance(item, str) else item for item in data]
        return data


def program_files(policy: RemoteFiles, **kwargs) -> ProgramFiles:
    """A /ask or /scan file parameter resolving URLs under `policy`."""
    component = ProgramFiles(**kwargs)
    component.remote_files = policy
    if component.file_count == "multiple":
        component.data_model = UrlsOrFiles
    return component


def with_example(component, example: str | list[str], root: str = ""):
    """`component` with `example` (text, or files of the app's own under `root`) as its API page example."""
    if isinstance(example, str):
        value = payload = example
    else:
        value = [f"{root}{OWN_FILE_ROUTE}{Path(path).resolve()}" for path in example]
        payload = [_file_data(url) for url in value]
        if component.file_count == "single":
            value, payload = value[0], payload[0]
    component.example_value = lambda: value
    component.example_payload = lambda: payload
    return component


def _file_data(url: str) -> dict:
    return {"path": url, "url": url, "orig_name": Path(url).name, "meta": FILE_META}


def describe_inputs(fn: Callable, components: list) -> None:
    """Each component's API description from `fn`'s docstring (its Args: section, by parameter order).

    A list of files gets its file schema inline: gradio's MCP server cannot resolve the `$ref` of
    gradio's own list schema ("PointerToNowhere: '/$defs/FileData'").
    """
    _, descriptions, _ = get_function_description(fn)
    for component, text in zip(components, descriptions.values(), strict=False):
        schema = component.api_info_as_input()
        defs = schema.pop("$defs", {})
        schema = {**_inline(schema, defs), "description": text, "additional_description": text}
        component.api_info_as_input = lambda schema=schema: schema


def _inline(node, defs: dict):
    """`node` with every local `$ref` replaced by the definition it names."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inline(defs[ref.rsplit("/", 1)[1]], defs)
        return {key: _inline(value, defs) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node
