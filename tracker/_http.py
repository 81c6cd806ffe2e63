"""A small JSON-over-HTTP client on the standard library, for the streamer, ``tracker sync`` and login.

http.client imports in a few milliseconds (an HTTP library would cost init() 50 ms or more) and keeps
one connection alive per client. Keys travel in the Authorization header only, never in a URL.
"""

from __future__ import annotations

import http.client
import urllib.parse
from typing import Any

import orjson

from tracker._errors import Error


class ServerUnreachable(Error):
    """The server did not answer (connection refused, reset, timed out)."""


class Response:
    __slots__ = ("body", "status")

    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body

    def detail(self) -> str:
        if isinstance(self.body, dict) and "detail" in self.body:
            return str(self.body["detail"])
        return f"HTTP {self.status}"


class Client:
    """Requests to one server, with one key; not thread-safe (each thread makes its own)."""

    def __init__(self, base_url: str, api_key: str | None, *, timeout: float = 10.0) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        self.base_url = base_url
        self._https = parsed.scheme == "https"
        self._host, self._port = parsed.hostname or "localhost", parsed.port
        self._prefix = parsed.path.rstrip("/")
        self._key = api_key
        self._timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._connection = kind(self._host, self._port, timeout=self._timeout)
        return self._connection

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        query: dict[str, Any] | None = None,
        *,
        raw: bool = False,
    ) -> Response:
        """One request; ServerUnreachable when the server cannot be reached (after one reconnect).

        ``raw``: a 200 answer's body is kept as bytes (a file), not parsed as JSON.
        """
        url = self._prefix + path + (f"?{urllib.parse.urlencode(query, doseq=True)}" if query else "")
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        for attempt in (1, 2):  # a kept-alive connection the server closed fails once: reconnect
            connection = self._connect()
            try:
                connection.request(method, url, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                break
            except (OSError, http.client.HTTPException) as error:
                self.close()
                if attempt == 2:
                    raise ServerUnreachable(
                        f"{self.base_url} did not answer ({type(error).__name__}: {error})"
                    ) from None
        if raw and response.status == 200:
            return Response(200, data)
        try:
            parsed = orjson.loads(data) if data else None
        except orjson.JSONDecodeError:
            parsed = {"detail": data[:200].decode("utf-8", "replace")}
        return Response(response.status, parsed)

    def get(self, path: str, **query: Any) -> Response:
        return self.request("GET", path, query={key: value for key, value in query.items() if value is not None})

    def post(self, path: str, body: bytes) -> Response:
        return self.request("POST", path, body)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
