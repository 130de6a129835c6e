"""A session's files over its REST routes (``/v1/sessions/{id}/files``), as the TypeScript SDK's
``SessionFiles``. Paths are relative to the session's working directory, ``/home/pyodide``,
where its Python finds them with ``open()``."""

from __future__ import annotations

import json
import urllib.parse
from typing import Callable

from ._http import http_base, http_request
from .errors import BadRequest
from .types import FileInfo, FileListing


class AsyncSessionFiles:
    """The files of one session, by its id (no WebSocket needed)."""

    def __init__(self, url: str, session_id: str, token: Callable[[], str]) -> None:
        self.session_id = session_id
        self._token = token  # the session's current token, refreshed or not
        self._base = f"{http_base(url)}/v1/sessions/{urllib.parse.quote(session_id, safe='')}/files"

    async def upload(self, path: str, content: bytes | str) -> None:
        """Writes a file (text as UTF-8), making its directories; replaces one that is there."""
        body = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        await http_request(self._url(path), "PUT", token=self._token(), body=body, content_type="application/octet-stream")

    async def download(self, path: str) -> bytes:
        _, body = await http_request(self._url(path), "GET", token=self._token())
        return body

    async def list(self) -> FileListing:
        """Every regular file of the working directory, at any depth, with its size in bytes."""
        _, body = await http_request(self._base, "GET", token=self._token())
        listing = json.loads(body)
        files = [FileInfo(path=str(item["path"]), size=int(item["size"])) for item in listing.get("files", [])]
        return FileListing(files=files, truncated=bool(listing.get("truncated", False)))

    async def delete(self, path: str) -> None:
        await http_request(self._url(path), "DELETE", token=self._token())

    def _url(self, path: str) -> str:
        # The whole path is one escaped segment. "", "." and ".." cannot be one: a URL resolves
        # them away (files/.. is the session's own route), so they are refused here.
        if path in ("", ".", ".."):
            raise BadRequest("bad_request", f"{json.dumps(path)} names no file; give a path such as data/input.csv")
        return f"{self._base}/{urllib.parse.quote(path, safe='')}"
