"""HTTP transfer of AMASS archives: one authenticated POST per attempt, resumed with Range, streamed to the .part
file, verified, and only then given the final name (docs/CONVENTIONS.md, "Download protocol").

Every network operation has a timeout (``timeout`` seconds: connecting, and each read of the body), so a silent
server never blocks the run: the attempt fails and is retried per the RetryPolicy. The password lives only in
memory: urllib in this process sends it; nothing prints, logs or stores it.
"""
from __future__ import annotations

import errno
import http.client
import ipaddress
import logging
import math
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Iterable, Optional, Union

from tqdm import tqdm

from amass_fast import __version__
from amass_fast.io import catalog, workers
from amass_fast.io.catalog import Dataset
from amass_fast.io.progress import progress_bar
from amass_fast.io.credentials import Credentials, resolve_credentials
from amass_fast.io.download.checks import BZ2_MAGIC, ArchiveCheckError, looks_like_html, verify_archive
from amass_fast.io.download.retry import DownloadError, RetryPolicy, Transient
from amass_fast.io.download.state import ArchiveFiles, DownloadResult

log = logging.getLogger(__name__)

CHUNK = 1 << 16  # read size: small enough that progress bars move on slow links
BASE_URL_ENV = "AMASS_FAST_BASE_URL"
_DISK_HINTS = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space (quota)",
               errno.EFBIG: "use a file system that allows large files", errno.EROFS: "choose a writable --out",
               errno.EACCES: "choose a writable --out", errno.EPERM: "choose a writable --out"}


class _Progress:
    """An overall bar plus one bar per file being transferred (tqdm, on stderr)."""

    def __init__(self, enabled: Optional[bool], count: int):
        # enabled=None: bars on a terminal, plain lines of the overall progress elsewhere
        self.lock = threading.Lock()
        self.enabled = enabled
        self.overall = progress_bar(enabled, total=0, desc=f"{count} archive(s)", unit="B")

    def expect(self, num_bytes: int) -> None:
        with self.lock:
            self.overall.total = max(0, (self.overall.total or 0) + num_bytes)
            self.overall.refresh()

    def file_bar(self, name: str, total: Optional[int], initial: int) -> tqdm:
        # Off a terminal the overall bar's lines say how far the whole download is.
        return progress_bar(self.enabled, total=total, initial=initial, desc=name, unit="B", leave=False,
                            lines=False)

    def advance(self, num_bytes: int) -> None:
        with self.lock:
            self.overall.update(num_bytes)

    def close(self) -> None:
        self.overall.close()



# ---------------------------------------------------------------------------------------------------- download
def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_base_url(base_url: str) -> None:
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DownloadError("the base URL must look like https://host[:port]")
    if parts.username or parts.password:  # it would end up in messages and receipts
        raise DownloadError("the base URL must not hold a login: use AMASS_USERNAME/AMASS_PASSWORD or ~/.netrc")


def _parse_content_range(value: Optional[str]) -> tuple[Optional[int], Optional[int]]:
    """``bytes 100-199/200`` -> (100, 200); total None when ``*``."""
    try:
        unit, _, spec = (value or "").strip().partition(" ")
        span, _, total = spec.partition("/")
        start = int(span.partition("-")[0])
        return (start if unit == "bytes" else None), (None if total.strip() == "*" else int(total))
    except ValueError:
        return None, None


class Downloader:
    """Downloads archives into ``out_dir`` for one model and gender; thread-safe (one dataset per thread)."""

    def __init__(
        self,
        out_dir: Union[str, os.PathLike],
        credentials: Optional[Credentials],
        *,
        base_url: str = catalog.DEFAULT_BASE_URL,
        model: str = "smplh",
        gender: str = "gender_specific",
        retries: int = 5,
        backoff: float = 2.0,
        max_backoff: float = 60.0,
        timeout: float = 60.0,
        check: bool = False,
        progress: Optional[bool] = None,
    ):
        _check_base_url(base_url)
        if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be a number of seconds > 0 (got {timeout!r}): without one a silent "
                             f"server would block the download forever")
        self.out_dir = Path(out_dir)
        self.credentials = credentials
        self.base_url, self.model, self.gender = base_url, model, gender
        self.policy = RetryPolicy(retries, backoff, max_backoff)
        self.timeout, self.check, self.progress_enabled = timeout, check, progress
        handlers: list = [urllib.request.HTTPCookieProcessor(CookieJar())]
        if _is_loopback(base_url):
            handlers.append(urllib.request.ProxyHandler({}))  # never send a local test server through a proxy
        self.opener = urllib.request.build_opener(*handlers)
        self.opener.addheaders = [("User-Agent", f"amass-fast/{__version__}")]
        self.stop = threading.Event()  # set on a stop: transfers end at the next chunk, .part files are kept
        self._progress: Optional[_Progress] = None

    # -- many datasets
    def download_all(self, datasets: Iterable[Dataset], jobs: int = 2) -> list[DownloadResult]:
        """Download ``datasets`` with ``jobs`` at once; results in the given order."""
        datasets = list(datasets)
        self._progress = _Progress(self.progress_enabled, len(datasets))
        threads = max(1, min(jobs, len(datasets)))
        try:
            # A stop here (Ctrl-C, SIGTERM, SIGHUP) sets self.stop: transfers end at their next chunk, .part kept.
            with workers.thread_pool(threads, self.stop, "amass-download") as pool:
                futures = [pool.submit(self.download, d) for d in datasets]
                return [f.result() for f in futures]
        finally:
            self._progress.close()
            self._progress = None

    # -- one dataset
    def download(self, dataset: Dataset) -> DownloadResult:
        """Download one archive (resuming a .part), verify it, and only then give it its final name."""
        started = time.monotonic()
        files = ArchiveFiles(self.out_dir, dataset)

        def result(status: str, message: str = "") -> DownloadResult:
            path = files.final if status != "failed" else None
            size = files.final.stat().st_size if path is not None else 0
            return DownloadResult(dataset.name, status, path, size, time.monotonic() - started, message)

        try:
            note = files.check_existing(self.model, self.gender, self.check)
            if note is not None:
                return result("skipped", note)
            self.out_dir.mkdir(parents=True, exist_ok=True)
            url = catalog.archive_url(self.base_url, dataset.name, self.model, self.gender)
            files.remove_leftovers()

            def attempt() -> None:
                total = self._fetch(dataset, files, url)
                self._finish(dataset, files, url, total)

            last = self.policy.run(attempt, self.stop, dataset.name)
            if last is None:
                return result("downloaded")
            kept = files.part.stat().st_size if files.part.exists() else 0
            return result("failed", f"gave up after {self.policy.attempts} attempts: {last}. "
                                    f"Rerun to resume ({kept} bytes kept in {files.part.name}).")
        except DownloadError as err:
            return result("failed", str(err))
        except Exception as err:  # one dataset's bug must not take the others down
            log.exception("%s: unexpected error", dataset.name)
            return result("failed", f"unexpected error: {type(err).__name__}: {err}")

    def _finish(self, dataset: Dataset, files: ArchiveFiles, url: str, total: Optional[int]) -> None:
        try:
            verify_archive(files.part, total, deep=self.check)
        except ArchiveCheckError as err:
            files.discard_part()
            raise Transient(f"the downloaded file failed verification ({err}); starting over") from None
        etag = files.read_json(files.state).get("etag")
        files.write_json(files.receipt, {  # first: a final archive never exists with another model's receipt
            "dataset": dataset.name, "archive": dataset.archive, "model": self.model, "gender": self.gender,
            "size": files.part.stat().st_size, "source": "download", "url": url, "etag": etag,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        os.replace(files.part, files.final)
        files.state.unlink(missing_ok=True)

    def _resume_point(self, files: ArchiveFiles, url: str) -> tuple[int, dict]:
        """Bytes of a usable .part (0 if none) and the saved server validators; discards unusable leftovers."""
        if not files.part.exists():
            files.state.unlink(missing_ok=True)
            return 0, {}
        state = files.read_json(files.state)
        with open(files.part, "rb") as f:
            head = f.read(len(BZ2_MAGIC))
        size = files.part.stat().st_size
        reason = None
        if head != BZ2_MAGIC:
            reason = "does not start like a bzip2 archive"
        elif state.get("url") not in (None, url):
            reason = "belongs to another address (model, gender or server changed)"
        elif state.get("total") is not None and size > state["total"]:
            reason = "is longer than the archive"
        if reason:
            log.warning("%s %s: discarded, starting over", files.part, reason)
            files.discard_part()
            return 0, {}
        return size, state

    def _fetch(self, dataset: Dataset, files: ArchiveFiles, url: str) -> Optional[int]:
        """One attempt: request the rest of the archive and append it to the .part; returns the total size."""
        offset, state = self._resume_point(files, url)
        if offset and offset == state.get("total"):
            return offset  # complete already (interrupted before the rename)
        if self.credentials is None:
            raise DownloadError(f"{dataset.name}: no credentials to download with")
        headers = {}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            validator = state.get("etag") or state.get("last_modified")
            if validator:
                headers["If-Range"] = validator  # a changed file comes back whole (200), not glued
        request = urllib.request.Request(url, data=self.credentials.form_data(), headers=headers, method="POST")
        try:
            response = self.opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as err:
            with err:
                raise self._http_error(dataset, files, err, offset) from None
        except (OSError, http.client.HTTPException) as err:  # URLError, timeouts, refused connections
            host = urllib.parse.urlsplit(url).hostname
            raise Transient(f"cannot reach {host}: {getattr(err, 'reason', None) or err}") from None
        with response:
            return self._receive(dataset, files, url, response, offset)

    def _http_error(self, dataset: Dataset, files: ArchiveFiles, err: urllib.error.HTTPError,
                    offset: int) -> DownloadError:
        code = err.code
        if code == 416 and offset:
            files.discard_part()
            return Transient("the server refused to resume (HTTP 416); starting over")
        if code in (401, 403):
            return DownloadError(self._html_message(dataset, code, b""))
        if code == 404:
            offered = ", ".join(dataset.offered) or "none known"
            return DownloadError(
                f"the server has no {self.model}/{self.gender} archive of {dataset.name} (HTTP 404); the catalog "
                f"lists {offered}: try another --model/--gender")
        if code in (408, 429) or code >= 500:
            return Transient(f"HTTP {code} {err.reason}")
        return DownloadError(f"unexpected answer HTTP {code} {err.reason} from the server")

    def _html_message(self, dataset: Dataset, status: int, page: bytes) -> str:
        source = self.credentials.source if self.credentials else "none"
        licence = f"accept the {dataset.name} licence at {catalog.LICENCE_ACCEPT_PAGE} (text: {dataset.licence_url})"
        if b'type="password"' in page.lower() or b"type='password'" in page.lower():
            return (f"the server sent its login page instead of the archive (HTTP {status}): the username or "
                    f"password (from {source}) was not accepted. Check that they work at {catalog.AMASS_SITE}/, "
                    f"then {licence}, and rerun.")
        return (f"the server sent a web page instead of the archive (HTTP {status}): the {dataset.name} licence "
                f"has most likely not been accepted for your account (or the login from {source} failed). "
                f"Log in, {licence}, and rerun.")

    def _receive(self, dataset: Dataset, files: ArchiveFiles, url: str, response, offset: int) -> Optional[int]:
        status = response.status
        content_type = response.headers.get("Content-Type", "")
        head = b""
        while len(head) < 512:  # enough to tell an archive from a web page
            piece = response.read1(CHUNK)
            if not piece:
                break
            head += piece
        if status == 206:
            start, total = _parse_content_range(response.headers.get("Content-Range"))
            saved_total = files.read_json(files.state).get("total")
            if looks_like_html(head, content_type):
                raise DownloadError(self._html_message(dataset, status, head + response.read(1 << 16)))
            if start != offset or (saved_total is not None and total != saved_total):
                files.discard_part()
                raise Transient("the server resumed at another place or the file changed; starting over")
            mode = "ab"
        elif status == 200:
            if not head.startswith(BZ2_MAGIC):
                if looks_like_html(head, content_type):
                    raise DownloadError(self._html_message(dataset, status, head + response.read(1 << 16)))
                raise DownloadError(f"the server sent something that is not a bzip2 archive "
                                    f"(Content-Type {content_type or 'none'}); nothing was kept")
            if offset:
                log.info("%s: the server sent the whole file (it ignored the resume request, or the file "
                         "changed); restarting from 0", dataset.name)
            length = response.headers.get("Content-Length", "")
            start, total, mode = 0, (int(length) if length.isdigit() else None), "wb"
        else:
            raise Transient(f"unexpected HTTP {status}")
        files.write_json(files.state, {"url": url, "etag": response.headers.get("ETag"),
                                       "last_modified": response.headers.get("Last-Modified"), "total": total})
        self._stream(dataset, files, response, head, mode, start, total)
        size = files.part.stat().st_size
        if total is not None and size > total:
            files.discard_part()
            raise Transient(f"received {size} bytes, more than the {total} announced; starting over")
        if total is not None and size < total:
            raise Transient(f"the connection closed after {size} of {total} bytes")
        return total

    def _stream(self, dataset: Dataset, files: ArchiveFiles, response, head: bytes, mode: str, start: int,
                total: Optional[int]) -> None:
        """Write ``head`` and the rest of the body to the .part, with progress; keep what arrived on errors."""
        progress = self._progress or _Progress(self.progress_enabled, 1)
        expected = None if total is None else total - start
        if expected is not None:
            progress.expect(expected)
        received = 0
        bar = progress.file_bar(dataset.name, total, start)
        try:
            with open(files.part, mode) as out:
                data = head
                while data:
                    if self.stop.is_set():
                        raise DownloadError(f"{dataset.name}: interrupted; rerun to resume")
                    try:
                        out.write(data)
                    except OSError as err:
                        raise self._disk_error(files, err) from None
                    received += len(data)
                    bar.update(len(data))
                    progress.advance(len(data))
                    try:
                        data = response.read1(CHUNK)
                    except (OSError, http.client.HTTPException) as err:  # reset, timeout, bad chunking
                        raise Transient(f"the connection broke after {start + received} bytes ({err})") from None
                try:
                    out.flush()
                    os.fsync(out.fileno())
                except OSError as err:
                    raise self._disk_error(files, err) from None
        finally:
            bar.close()
            if expected is not None and received < expected:
                progress.expect(received - expected)  # the rest is counted again by the next attempt
            if progress is not self._progress:
                progress.close()

    @staticmethod
    def _disk_error(files: ArchiveFiles, err: OSError) -> DownloadError:
        hint = _DISK_HINTS.get(err.errno, "check the disk")
        return DownloadError(f"cannot write {files.part}: {err.strerror or err}; {hint} and rerun to resume")


# ---------------------------------------------------------------------------------------------------- API
def download_datasets(
    names: Iterable[Union[str, Dataset]],
    out_dir: Union[str, os.PathLike] = "data/downloads",
    credentials: Optional[Credentials] = None,
    *,
    base_url: Optional[str] = None,
    model: str = "smplh",
    gender: str = "gender_specific",
    jobs: int = 2,
    retries: int = 5,
    backoff: float = 2.0,
    timeout: float = 60.0,
    check: bool = False,
    progress: Optional[bool] = None,
) -> list[DownloadResult]:
    """Download AMASS archives (names as catalog.get accepts them) into ``out_dir``; results in order.

    ``credentials`` None: resolved (environment, ~/.netrc, prompt) only if something must be fetched.
    ``base_url`` None: $AMASS_FAST_BASE_URL, else the AMASS server.
    """
    datasets = [n if isinstance(n, Dataset) else catalog.get(n) for n in names]
    base_url = base_url or os.environ.get(BASE_URL_ENV) or catalog.DEFAULT_BASE_URL
    _check_base_url(base_url)
    if credentials is None and any(not (Path(out_dir) / d.archive).exists() for d in datasets):
        credentials = resolve_credentials(base_url)
    downloader = Downloader(out_dir, credentials, base_url=base_url, model=model, gender=gender, retries=retries,
                            backoff=backoff, timeout=timeout, check=check, progress=progress)
    return downloader.download_all(datasets, jobs=jobs)


