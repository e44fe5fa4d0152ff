"""The demo as MCP tools (`--mcp`), driven by a real MCP client (the `mcp` package) over streamable HTTP.

An agent uploads a file through the app's upload route and hands the returned URL to a tool, on
loopback too; every refusal is the one `/ask` gives for the same input.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from model.settings import AppSettings
from tests.support.serving import serve_demo

CALL_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def app_settings():
    """The launched app (conftest's `app_url`) serves MCP."""
    return AppSettings(model="tiny", frames=4, max_new_tokens=64, concurrency=1, mcp=True)


def mcp(url: str, calls, local_address: str | None = None):
    """Run `calls(session)` in one MCP session with the app; returns what it returns. With
    `local_address` (one of this machine's loopback addresses) the agent connects from there."""

    async def run():
        transport = httpx.AsyncHTTPTransport(local_address=local_address) if local_address else None
        async with (
            httpx.AsyncClient(transport=transport, timeout=CALL_TIMEOUT_S) as http,
            streamable_http_client(f"{url}/gradio_api/mcp/", http_client=http) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await asyncio.wait_for(calls(session), CALL_TIMEOUT_S)

    return asyncio.run(run())


def call(url: str, tool: str, **arguments):
    """(is_error, text) of one tool call."""

    async def calls(session):
        return await session.call_tool(tool, arguments)

    result = mcp(url, calls)
    return result.isError, " ".join(part.text for part in result.content if part.type == "text")


def upload(url: str, path: Path) -> str:
    """Upload as an agent's upload tool does; returns the file's URL on the app."""
    with open(path, "rb") as f:
        response = httpx.post(f"{url}/gradio_api/upload", files={"files": f}, timeout=30)
    response.raise_for_status()
    return f"{url}/gradio_api/file={response.json()[0]}"


def test_the_tools_are_ask_and_scan_and_every_parameter_is_described(app_url):
    async def calls(session):
        return (await session.list_tools()).tools

    tools = {tool.name: tool for tool in mcp(app_url, calls)}
    assert set(tools) == {"ask", "scan"}  # the page's own events are not tools
    for tool in tools.values():
        assert tool.description.strip()
        for name, schema in tool.inputSchema["properties"].items():
            assert schema.get("description", "").strip(), f"{tool.name}.{name} has no description"
            assert "$ref" not in json.dumps(schema), f"{tool.name}.{name} refers to a definition it lacks"
    assert tools["ask"].inputSchema["required"] == ["question"]  # files are optional
    assert tools["ask"].inputSchema["properties"]["files"]["items"]["type"] == "string"
    assert tools["scan"].inputSchema["required"] == ["video"]


def test_a_text_question_needs_no_file(app_url):
    is_error, text = call(app_url, "ask", question="Hello?", max_new_tokens=6)
    assert not is_error and text.strip()


def test_ask_about_a_video_uploaded_by_the_agent(app_url, video_path):
    is_error, text = call(
        app_url, "ask", question="What happens?", files=[upload(app_url, video_path)], max_new_tokens=6
    )
    assert not is_error and text.strip()


def test_scan_a_video_uploaded_by_the_agent(app_url, video_path):
    is_error, text = call(app_url, "scan", video=upload(app_url, video_path), segment_seconds=1, max_new_tokens=4)
    assert not is_error
    assert "'start': 0.0" in text and "'end': 2.0" in text  # the timeline covers the 2 s clip


def test_the_example_file_on_the_api_page_works_as_a_url(app_url):
    """The API page's example names a file of assets/ by the app's own URL; it runs as shown."""
    info = httpx.get(f"{app_url}/gradio_api/info", timeout=30).json()["named_endpoints"]
    [example] = info["/ask"]["parameters"][1]["example_input"]
    assert example["url"].endswith("assets/bouncing_ball.mp4")
    assert info["/ask"]["parameters"][0]["example_input"] == "What does the ball do?"
    is_error, text = call(app_url, "ask", question="What does the ball do?", files=[example["url"]], max_new_tokens=4)
    assert not is_error and text.strip()


def refusal_of_ask(url: str, **arguments) -> str:
    with pytest.raises(AppError) as caught:
        Client(url, verbose=False, download_files=False).predict(**arguments, api_name="/ask")
    return str(caught.value)


def test_bad_input_is_refused_as_ask_refuses_it(app_url, broken_video_path, image_path):
    cases = [
        ({"question": "x" * 5000}, {"question": "x" * 5000}),
        ({"question": "What?", "files": [upload(app_url, broken_video_path)]},
         {"question": "What?", "files": [handle_file(str(broken_video_path))]}),
        ({"question": "What?", "files": [upload(app_url, image_path)] * 5},
         {"question": "What?", "files": [handle_file(str(image_path))] * 5}),
    ]  # fmt: skip
    for mcp_arguments, ask_arguments in cases:
        is_error, text = call(app_url, "ask", **mcp_arguments)
        assert is_error
        assert text.strip() and text in refusal_of_ask(app_url, **ask_arguments)


def test_a_url_of_a_private_host_or_of_a_file_not_uploaded_is_refused(app_url, tmp_path):
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"not for strangers")
    for url in [
        f"{app_url}/gradio_api/file={secret}",  # the app's own route, a file it never received
        f"{app_url}/gradio_api/file=/etc/passwd",
        "http://127.0.0.1:9/clip.mp4",  # loopback
        "http://169.254.169.254/latest/meta-data/clip.mp4",  # a cloud's metadata address
        "http://[::ffff:127.0.0.1]:9/clip.mp4",
    ]:
        is_error, text = call(app_url, "ask", question="What?", files=[url])
        assert is_error and "not on a public host" in text, url
        is_error, text = call(app_url, "scan", video=url)
        assert is_error and "not on a public host" in text, url
        assert str(tmp_path) not in text


def test_the_server_keeps_serving_after_refusals(app_url):
    is_error, text = call(app_url, "ask", question="Still there?", max_new_tokens=4)
    assert not is_error and text.strip()


def test_each_agent_is_its_own_visitor(engine, video_path):
    """Before: every agent's tool calls reached gradio's queue from the server itself (gradio's MCP
    server calls its own queue over loopback, in one session), so all agents shared one share of the
    queue and one decoder. Now each call counts as its agent's, by its address."""
    settings = replace(AppSettings(model="tiny", frames=4, max_new_tokens=64), mcp=True)
    with serve_demo(engine, settings) as (url, ctx):
        seen = []
        reading = ctx.reading
        ctx.reading = lambda request: seen.append(ctx.visitor(request)) or reading(request)
        file_url = upload(url, video_path)

        async def calls(session):
            return await session.call_tool("ask", {"question": "What?", "files": [file_url], "max_new_tokens": 4})

        for address in ("127.0.0.2", "127.0.0.3"):
            assert not mcp(url, calls, local_address=address).isError
    assert [v.address for v in seen] == ["127.0.0.2", "127.0.0.3"]
    # gradio's MCP server is stateless (no MCP session ids): an agent is its address, never the one
    # session gradio's loopback client uses for every agent
    assert [v.session for v in seen] == [None, None]
