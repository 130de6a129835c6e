"""Where a token comes from: the argument, WASM_REPL_TOKEN, or a loopback development server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest
from conftest import URL, requires_server, run

import wasm_repl
from wasm_repl._http import resolve_token


@pytest.fixture
def development_server() -> Iterator[tuple[str, list[str]]]:
    """A stand-in for a development server's GET /v1/development-token (404 for anything else)."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = json.dumps({"token": "dev-token"} if self.path == "/v1/development-token" else {"code": "not_found", "message": "no such route"}).encode()
            self.send_response(200 if self.path == "/v1/development-token" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def test_the_argument_then_the_environment_then_a_development_server(monkeypatch: pytest.MonkeyPatch, development_server: tuple[str, list[str]]) -> None:
    url, asked = development_server
    monkeypatch.setenv("WASM_REPL_TOKEN", "from-env")
    assert run(lambda: resolve_token(url, "given")) == "given"
    assert run(lambda: resolve_token(url, None)) == "from-env"
    assert asked == []
    monkeypatch.delenv("WASM_REPL_TOKEN")
    assert run(lambda: resolve_token(url, None)) == "dev-token"
    assert run(lambda: resolve_token(url.replace("127.0.0.1", "localhost"), None)) == "dev-token"
    assert asked == ["/v1/development-token", "/v1/development-token"]


def test_no_development_token_is_asked_of_another_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WASM_REPL_TOKEN", raising=False)
    with pytest.raises(wasm_repl.Unauthorized) as refused:
        run(lambda: resolve_token("https://wasm-repl.example.com", None))
    assert "WASM_REPL_TOKEN" in str(refused.value) and refused.value.code == "unauthorized"


@requires_server
def test_a_server_without_the_route_says_to_set_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    # The test server has a configured secret: it is no development server, so it has no such route.
    monkeypatch.delenv("WASM_REPL_TOKEN")
    with pytest.raises(wasm_repl.Unauthorized) as refused:
        run(lambda: wasm_repl.AsyncSession.open(URL))
    assert "WASM_REPL_TOKEN" in str(refused.value)
    with pytest.raises(wasm_repl.Unauthorized):
        wasm_repl.execute("1", url=URL)
