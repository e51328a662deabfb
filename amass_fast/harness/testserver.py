"""A local stand-in for the AMASS download server, for tests and `amass-fast selftest --hostile`.

It speaks the protocol of docs/CONVENTIONS.md, "Download protocol", on 127.0.0.1 (random port):

    POST /download.php?domain=amass&resume=1&sfile=amass_per_dataset/{model}/{gender}/mosh_results/NAME.tar.bz2
    body: username=...&password=...   (or the login cookie the server set on an earlier answer)

- a wrong login or an unaccepted licence gets an HTML page with status 200, as the real site does;
- ``Range: bytes=N-`` gets 206 with Content-Range; ``If-Range`` with a stale ETag gets the whole new file (200);
- faults on demand (``mode``, one or several of):
    "cut"          close the connection mid-body on the first ``failures`` attempts of each file
    "ignore-range" always answer 200 with the whole body
    "error500"     answer 500 to the first ``failures`` requests for archives
    "trickle"      send ``trickle_chunk`` bytes every ``trickle_delay`` seconds
    "change"       after the first attempt at a file, replace it by ``replacements[name]``
    "silent"       read each request and never answer (until the server stops): a client must time out

Every request is recorded in ``server.requests`` (bytes of body sent included), so tests can check that a resume
did not fetch again what was already on disk. Read the records after the ``with`` block: stopping waits for
answers still being written, so they are final.

    with AmassTestServer({"ACCAD": data}, "user", "secret") as server:
        download(..., base_url=server.base_url)
"""
from __future__ import annotations

import hashlib
import http.cookies
import re
import secrets
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterable, Optional, Union

MODES = {"normal", "cut", "ignore-range", "error500", "trickle", "change", "silent"}
_SFILE = re.compile(r"^amass_per_dataset/(smplh|smplx)/(gender_specific|neutral)/mosh_results/([^/]+)\.tar\.bz2$")
_COOKIE = "PHPSESSID"

LOGIN_PAGE = b"""<!DOCTYPE html>
<html><head><title>AMASS - Login</title></head><body>
<p>Please log in to download this file.</p>
<form method="post" action="/login.php">
<input type="text" name="username"> <input type="password" name="password"> <input type="submit" value="Login">
</form></body></html>
"""

LICENCE_PAGE = b"""<!DOCTYPE html>
<html><head><title>AMASS - License</title></head><body>
<p>You have not accepted the license agreement for this dataset yet.</p>
<p><a href="/download.php">Go to the download page and accept the license.</a></p>
</body></html>
"""


@dataclass
class ServedRequest:
    """One request as the server saw and answered it."""

    name: Optional[str]  # archive name, e.g. "ACCAD"; None for a bad address
    model: Optional[str]
    gender: Optional[str]
    method: str
    range_start: Optional[int]  # the N of "Range: bytes=N-", if sent
    authenticated: bool
    status: int = 0
    bytes_sent: int = 0  # body bytes of the archive actually written to the socket
    kind: str = ""  # "archive", "login-page", "licence-page", "error", "not-found"
    secret_in_url: bool = False  # the password appeared in the request line (it never should)
    started: float = 0.0  # time.monotonic() when the request arrived and when its answer was done
    finished: float = 0.0


class AmassTestServer:
    """Serve ``files`` (archive name -> bytes) like the AMASS download site; a context manager."""

    def __init__(
        self,
        files: dict[str, bytes],
        username: str = "user",
        password: str = "secret",
        accepted: Optional[set[str]] = None,
        mode: Union[str, Iterable[str]] = "normal",
        *,
        failures: int = 1,
        cut_fraction: float = 0.5,
        trickle_chunk: int = 512,
        trickle_delay: float = 0.005,
        replacements: Optional[dict[str, bytes]] = None,
    ):
        self.files = dict(files)
        self.username, self.password = username, password
        self.accepted = None if accepted is None else set(accepted)
        self.modes = {mode} if isinstance(mode, str) else set(mode)
        unknown = self.modes - MODES
        if unknown:
            raise ValueError(f"unknown test-server modes {sorted(unknown)}; choose from {sorted(MODES)}")
        self.failures = failures
        self.cut_fraction = cut_fraction
        self.trickle_chunk, self.trickle_delay = trickle_chunk, trickle_delay
        self.replacements = dict(replacements or {})
        self.requests: list[ServedRequest] = []
        self._sessions: set[str] = set()
        self._attempts: dict[str, int] = {}
        self._errors_sent = 0
        self._lock = threading.Lock()
        self._httpd: Optional[ThreadingHTTPServer] = None
        self._stopping = threading.Event()  # cuts trickle pauses short on stop()
        self._thread: Optional[threading.Thread] = None

    # ---- lifecycle ----
    def start(self) -> "AmassTestServer":
        server = self

        class Handler(_Handler):
            owner = server

        self._stopping.clear()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = False  # server_close() waits for answers in flight: records are final
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="amass-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; returns once every request has been answered, so ``requests`` is complete."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "AmassTestServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: pass it as --base-url."""
        assert self._httpd is not None, "start the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # ---- what tests read ----
    def archive_requests(self, name: str) -> list[ServedRequest]:
        """Requests that were answered with (part of) the archive ``name``."""
        with self._lock:
            return [r for r in self.requests if r.name == name and r.kind == "archive"]

    def bytes_served(self, name: str) -> list[int]:
        """Body bytes sent for ``name``, one entry per archive response."""
        return [r.bytes_sent for r in self.archive_requests(name)]

    @staticmethod
    def etag(data: bytes) -> str:
        return '"' + hashlib.sha256(data).hexdigest()[:20] + '"'


class _Handler(BaseHTTPRequestHandler):
    owner: AmassTestServer
    protocol_version = "HTTP/1.1"
    server_version = "AmassTestServer/1"
    timeout = 30  # seconds a silent client may hold a connection: stop() never waits on one forever

    def log_message(self, format: str, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._handle(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._handle(self.rfile.read(length) if length else b"")

    # ---- protocol ----
    def _handle(self, body: bytes) -> None:
        owner = self.owner
        self.close_connection = True
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        match = _SFILE.match((query.get("sfile") or [""])[0])
        form = urllib.parse.parse_qs(body.decode("latin-1"))
        range_start = _range_start(self.headers.get("Range"))
        record = ServedRequest(
            name=match.group(3) if match else None, model=match and match.group(1),
            gender=match and match.group(2), method=self.command, range_start=range_start,
            authenticated=False, started=time.monotonic(),
            secret_in_url=bool(owner.password) and owner.password in urllib.parse.unquote(self.path),
        )
        with owner._lock:
            owner.requests.append(record)
        try:
            self._answer(record, url, query, form)
        finally:
            record.finished = time.monotonic()

    def _answer(self, record: ServedRequest, url: urllib.parse.SplitResult, query: dict, form: dict) -> None:
        owner = self.owner
        if "silent" in owner.modes:
            record.kind = "silent"
            owner._stopping.wait()
            return
        if url.path != "/download.php" or query.get("domain") != ["amass"] or record.name is None:
            return self._page(record, 404, b"<html><body>Not found</body></html>", "not-found")

        new_session = None
        cookie = http.cookies.SimpleCookie(self.headers.get("Cookie") or "")
        with owner._lock:
            if _COOKIE in cookie and cookie[_COOKIE].value in owner._sessions:
                record.authenticated = True
            elif form.get("username") == [owner.username] and form.get("password") == [owner.password]:
                record.authenticated = True
                new_session = secrets.token_hex(8)
                owner._sessions.add(new_session)
        if not record.authenticated:
            return self._page(record, 200, LOGIN_PAGE, "login-page")
        name = record.name
        if owner.accepted is not None and name not in owner.accepted:
            return self._page(record, 200, LICENCE_PAGE, "licence-page", new_session)
        with owner._lock:
            data = owner.files.get(name)
            fail = data is not None and "error500" in owner.modes and owner._errors_sent < owner.failures
            if fail:
                owner._errors_sent += 1
            elif data is not None:
                owner._attempts[name] = attempt = owner._attempts.get(name, 0) + 1
        if data is None:
            return self._page(record, 404, b"<html><body>No such file</body></html>", "not-found", new_session)
        if fail:
            return self._page(record, 500, b"<html><body>Internal Server Error</body></html>", "error", new_session)
        try:
            self._send_archive(record, data, attempt, new_session)
        finally:
            with owner._lock:
                if "change" in owner.modes and name in owner.replacements:
                    owner.files[name] = owner.replacements.pop(name)

    def _send_archive(self, record: ServedRequest, data: bytes, attempt: int, session: Optional[str]) -> None:
        owner = self.owner
        etag = owner.etag(data)
        start = record.range_start
        if_range = self.headers.get("If-Range")
        if "ignore-range" in owner.modes or (if_range is not None and if_range != etag):
            start = None
        if start is not None and start >= len(data):
            record.status, record.kind = 416, "archive"
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self._common_headers(session)
            return self.end_headers()
        body = data if start is None else data[start:]
        record.status, record.kind = (200 if start is None else 206), "archive"
        self.send_response(record.status)
        self.send_header("Content-Type", "application/x-bzip2")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        if start is not None:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self._common_headers(session)
        self.end_headers()

        limit = len(body)
        if "cut" in owner.modes and attempt <= owner.failures:
            limit = int(len(body) * owner.cut_fraction)
        step = owner.trickle_chunk if "trickle" in owner.modes else 1 << 16
        try:
            for offset in range(0, limit, step):
                piece = body[offset:min(offset + step, limit)]
                self.wfile.write(piece)
                self.wfile.flush()
                record.bytes_sent += len(piece)
                if "trickle" in owner.modes and offset + step < limit and owner._stopping.wait(owner.trickle_delay):
                    break
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up (e.g. its timeout): record what was sent
        if limit < len(body):  # drop the connection mid-body
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _common_headers(self, session: Optional[str]) -> None:
        if session is not None:
            self.send_header("Set-Cookie", f"{_COOKIE}={session}; Path=/; HttpOnly")
        self.send_header("Connection", "close")

    def _page(self, record: ServedRequest, status: int, html: bytes, kind: str, session: Optional[str] = None) -> None:
        record.status, record.kind = status, kind
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=UTF-8")
        self.send_header("Content-Length", str(len(html)))
        self._common_headers(session)
        self.end_headers()
        self.wfile.write(html)


def _range_start(header: Optional[str]) -> Optional[int]:
    match = re.fullmatch(r"\s*bytes=(\d+)-\s*", header or "")
    return int(match.group(1)) if match else None
