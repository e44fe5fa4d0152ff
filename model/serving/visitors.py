"""Who a request comes from: its client address, and the browser tab or agent behind it.

The address is the connection's peer, or what a proxy the operator trusts says it forwarded
(uvicorn applies `--trusted-proxies` before any of this runs; nobody's X-Forwarded-For is believed
otherwise). gradio's MCP server calls its own queue over loopback, forwarding the agent's request
headers: the guard stamps each MCP request with the agent's address, signed with a key of this
process, so that the loopback call is counted as that agent's, not as the server's own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

VISITOR_HEADER = b"x-llava-visitor"  # set by the guard on MCP requests; believed only when signed
MCP_SESSION_HEADER = b"mcp-session-id"  # the MCP client's own session, forwarded by gradio
LOOPBACK = {"127.0.0.1", "::1"}


@dataclass(frozen=True)
class Visitor:
    """What the fair share counts by: a tab (or agent session) and a client address."""

    address: str
    session: str | None = None


@dataclass(frozen=True)
class VisitorStamp:
    """Signs the address of an MCP agent into a header, and reads it back (HMAC with a random key)."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def stamp(self, address: str) -> bytes:
        return f"{address}|{self._mac(address)}".encode()

    def address(self, value: bytes | None) -> str | None:
        """The address a stamp names, or None when the stamp is missing or not this process's."""
        if not value:
            return None
        address, _, mac = value.decode("latin-1").rpartition("|")
        return address if address and hmac.compare_digest(mac, self._mac(address)) else None

    def _mac(self, address: str) -> str:
        return hmac.new(self.key, address.encode(), hashlib.sha256).hexdigest()[:32]


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def visitor_of(
    client_host: str, headers: Iterable[tuple[bytes, bytes]], session: str | None, stamp: VisitorStamp
) -> Visitor:
    """The visitor of a request: a stamped loopback call (gradio's MCP server calling its own queue)
    is the agent's, by the agent's address and MCP session; anything else is its peer's and tab's."""
    headers = list(headers)
    if client_host in LOOPBACK:
        agent = stamp.address(header(headers, VISITOR_HEADER))
        if agent is not None:
            mcp_session = header(headers, MCP_SESSION_HEADER)
            return Visitor(agent, f"mcp:{mcp_session.decode('latin-1')[:128]}" if mcp_session else None)
    return Visitor(client_host, session)
