"""Authenticated, resumable, verified download of AMASS archives (`amass-fast download`).

Protocol (docs/CONVENTIONS.md, "Download protocol"): one address per archive (catalog.archive_url); the login goes as a form POST
(``username``, ``password``) with every request, and the session cookie is kept. A wrong login or an unaccepted
licence comes back as an HTML page, often with status 200, so a body is trusted only if it starts with ``BZh``.

On disk, in the output folder:

    NAME.tar.bz2.part                        while downloading; resumed with HTTP Range after an interruption
    NAME.tar.bz2                             only once complete and verified (bzip2 magic, announced length,
                                             bzip2 end-of-stream marker; --check also test-decompresses)
    .amass_fast/downloads/NAME.part.json     the server's validators (ETag, length) for a safe resume
    .amass_fast/downloads/NAME.json          receipt of a finished archive: model, gender, size, origin

The password lives only in memory: urllib in this process sends it; nothing prints, logs or stores it.
"""
from __future__ import annotations

import argparse
import bz2
import errno
import http.client
import ipaddress
import json
import logging
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Iterable, Optional, Union

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from amass_fast import __version__, catalog
from amass_fast.catalog import Dataset
from amass_fast.credentials import Credentials, CredentialsError, resolve_credentials

log = logging.getLogger(__name__)

BZ2_MAGIC = b"BZh"
CHUNK = 1 << 16  # read size: small enough that progress bars move on slow links
BASE_URL_ENV = "AMASS_FAST_BASE_URL"
_DISK_HINTS = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space (quota)",
               errno.EFBIG: "use a file system that allows large files", errno.EROFS: "choose a writable --out",
               errno.EACCES: "choose a writable --out", errno.EPERM: "choose a writable --out"}
_EOS_MAGIC = 0x177245385090  # bzip2 end-of-stream marker (sqrt(pi)), 48 bits, not byte-aligned


class ArchiveCheckError(ValueError):
    """A file that is not a complete bzip2 archive; the message names the file and the problem."""


class DownloadError(RuntimeError):
    """One dataset failed for good; the message says why and what to do."""


class _Retry(DownloadError):
    """A transient failure (connection lost, 5xx, short body): pause, then resume."""


@dataclass
class DownloadResult:
    """What happened to one dataset."""

    dataset: str
    status: str  # "downloaded" | "skipped" | "imported" | "failed"
    path: Optional[Path] = None
    size: int = 0
    seconds: float = 0.0
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "failed"


# ---------------------------------------------------------------------------------------------------- checks
def _looks_like_html(head: bytes, content_type: str = "") -> bool:
    text = head.lstrip().lower()
    return "html" in content_type.lower() or text.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml"))


def has_bz2_end(path: Union[str, os.PathLike]) -> bool:
    """Whether ``path`` ends with a bzip2 end-of-stream marker: a cheap test that the file is not cut short.

    The stream ends with the 48-bit marker, a 32-bit CRC and 0-7 padding bits, so the marker sits in the last
    11 bytes at one of 8 bit offsets.
    """
    size = os.path.getsize(path)
    if size < 14:  # the smallest bzip2 file (no data) has 14 bytes
        return False
    with open(path, "rb") as f:
        f.seek(size - 11)
        tail = int.from_bytes(f.read(11), "big")
    return any((tail >> (32 + pad)) & ((1 << 48) - 1) == _EOS_MAGIC for pad in range(8))


def verify_archive(path: Union[str, os.PathLike], expected_size: Optional[int] = None, deep: bool = False) -> None:
    """Raise ArchiveCheckError unless ``path`` is a complete bzip2 file: magic ``BZh``, ``expected_size`` bytes
    (when given), an end-of-stream marker, and with ``deep`` a full test decompression."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(512)
    if not head.startswith(BZ2_MAGIC):
        what = "a web page (HTML), not an archive" if _looks_like_html(head) else "not a bzip2 archive"
        raise ArchiveCheckError(f"{path} is {what}")
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise ArchiveCheckError(f"{path} has {size} bytes, the server announced {expected_size}")
    if not has_bz2_end(path):
        raise ArchiveCheckError(f"{path} is cut short (no bzip2 end-of-stream marker)")
    if deep:
        try:
            with bz2.open(path, "rb") as stream:  # multi-stream aware; checks every block's CRC
                while stream.read(1 << 22):
                    pass
        except (OSError, EOFError, ValueError) as err:
            raise ArchiveCheckError(f"{path} fails test decompression: {err}") from None


# ---------------------------------------------------------------------------------------------------- files
class _Files:
    """Where one dataset's archive, partial download and bookkeeping live in the output folder."""

    def __init__(self, out_dir: Path, dataset: Dataset):
        self.final = out_dir / dataset.archive
        self.part = out_dir / (dataset.archive + ".part")
        meta = out_dir / ".amass_fast" / "downloads"
        self.state = meta / f"{dataset.name}.part.json"
        self.receipt = meta / f"{dataset.name}.json"

    def discard_part(self) -> None:
        for path in (self.part, self.state):
            path.unlink(missing_ok=True)

    def read_json(self, path: Path) -> dict:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}

    def write_json(self, path: Path, data: dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)

    def check_existing(self, model: str, gender: str, deep: bool) -> Optional[str]:
        """None if there is no final archive yet; else why it is kept. Raises DownloadError if it is unusable."""
        if not self.final.exists():
            return None
        receipt = self.read_json(self.receipt)
        have = (receipt.get("model"), receipt.get("gender"))
        if None not in have and have != (model, gender):
            raise DownloadError(
                f"{self.final} holds the {have[0]}/{have[1]} archive, not {model}/{gender}: "
                "use another --out folder for this model, or delete the file and rerun")
        try:
            verify_archive(self.final, receipt.get("size"), deep=deep)
        except ArchiveCheckError as err:
            raise DownloadError(f"{err}: delete it and rerun to download it again") from None
        return "already there and verified" + (" (test-decompressed)" if deep else "")


# ---------------------------------------------------------------------------------------------------- progress
class _Progress:
    """An overall bar plus one bar per file being transferred (tqdm, on stderr)."""

    def __init__(self, enabled: Optional[bool], count: int):
        # enabled=None: tqdm shows bars only on a terminal
        self.disable = None if enabled is None else not enabled
        self.lock = threading.Lock()
        self.overall = tqdm(total=0, desc=f"{count} archive(s)", unit="B", unit_scale=True, unit_divisor=1024,
                            disable=self.disable, file=sys.stderr)

    def expect(self, num_bytes: int) -> None:
        with self.lock:
            self.overall.total = max(0, (self.overall.total or 0) + num_bytes)
            self.overall.refresh()

    def file_bar(self, name: str, total: Optional[int], initial: int) -> tqdm:
        return tqdm(total=total, initial=initial, desc=name, unit="B", unit_scale=True, unit_divisor=1024,
                    leave=False, disable=self.disable, file=sys.stderr)

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
        self.out_dir = Path(out_dir)
        self.credentials = credentials
        self.base_url, self.model, self.gender = base_url, model, gender
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self.timeout, self.check, self.progress_enabled = timeout, check, progress
        handlers: list = [urllib.request.HTTPCookieProcessor(CookieJar())]
        if _is_loopback(base_url):
            handlers.append(urllib.request.ProxyHandler({}))  # never send a local test server through a proxy
        self.opener = urllib.request.build_opener(*handlers)
        self.opener.addheaders = [("User-Agent", f"amass-fast/{__version__}")]
        self.stop = threading.Event()  # set on Ctrl-C: transfers end at the next chunk, .part files are kept
        self._progress: Optional[_Progress] = None

    # -- many datasets
    def download_all(self, datasets: Iterable[Dataset], jobs: int = 2) -> list[DownloadResult]:
        """Download ``datasets`` with ``jobs`` at once; results in the given order."""
        datasets = list(datasets)
        self._progress = _Progress(self.progress_enabled, len(datasets))
        pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="amass-download")
        try:
            futures = [pool.submit(self.download, d) for d in datasets]
            return [f.result() for f in futures]
        except KeyboardInterrupt:
            self.stop.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self._progress.close()
            self._progress = None

    # -- one dataset
    def download(self, dataset: Dataset) -> DownloadResult:
        """Download one archive (resuming a .part), verify it, and only then give it its final name."""
        started = time.monotonic()
        files = _Files(self.out_dir, dataset)

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
            last: Optional[_Retry] = None
            for attempt in range(self.retries + 1):
                if attempt:
                    delay = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
                    log.warning("%s: %s; retrying in %.3gs (attempt %d of %d)",
                                dataset.name, last, delay, attempt + 1, self.retries + 1)
                    if self.stop.wait(delay):
                        raise DownloadError(f"{dataset.name}: interrupted; rerun to resume")
                try:
                    total = self._fetch(dataset, files, url)
                    self._finish(dataset, files, url, total)
                    return result("downloaded")
                except _Retry as err:
                    last = err
            kept = files.part.stat().st_size if files.part.exists() else 0
            return result("failed", f"gave up after {self.retries + 1} attempts: {last}. "
                                    f"Rerun to resume ({kept} bytes kept in {files.part.name}).")
        except DownloadError as err:
            return result("failed", str(err))
        except Exception as err:  # one dataset's bug must not take the others down
            log.exception("%s: unexpected error", dataset.name)
            return result("failed", f"unexpected error: {type(err).__name__}: {err}")

    def _finish(self, dataset: Dataset, files: _Files, url: str, total: Optional[int]) -> None:
        try:
            verify_archive(files.part, total, deep=self.check)
        except ArchiveCheckError as err:
            files.discard_part()
            raise _Retry(f"the downloaded file failed verification ({err}); starting over") from None
        etag = files.read_json(files.state).get("etag")
        files.write_json(files.receipt, {  # first: a final archive never exists with another model's receipt
            "dataset": dataset.name, "archive": dataset.archive, "model": self.model, "gender": self.gender,
            "size": files.part.stat().st_size, "source": "download", "url": url, "etag": etag,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        os.replace(files.part, files.final)
        files.state.unlink(missing_ok=True)

    def _resume_point(self, files: _Files, url: str) -> tuple[int, dict]:
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

    def _fetch(self, dataset: Dataset, files: _Files, url: str) -> Optional[int]:
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
            raise _Retry(f"cannot reach {host}: {getattr(err, 'reason', None) or err}") from None
        with response:
            return self._receive(dataset, files, url, response, offset)

    def _http_error(self, dataset: Dataset, files: _Files, err: urllib.error.HTTPError, offset: int) -> DownloadError:
        code = err.code
        if code == 416 and offset:
            files.discard_part()
            return _Retry("the server refused to resume (HTTP 416); starting over")
        if code in (401, 403):
            return DownloadError(self._html_message(dataset, code, b""))
        if code == 404:
            offered = ", ".join(dataset.offered) or "none known"
            return DownloadError(
                f"the server has no {self.model}/{self.gender} archive of {dataset.name} (HTTP 404); the catalog "
                f"lists {offered}: try another --model/--gender")
        if code in (408, 429) or code >= 500:
            return _Retry(f"HTTP {code} {err.reason}")
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

    def _receive(self, dataset: Dataset, files: _Files, url: str, response, offset: int) -> Optional[int]:
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
            if _looks_like_html(head, content_type):
                raise DownloadError(self._html_message(dataset, status, head + response.read(1 << 16)))
            if start != offset or (saved_total is not None and total != saved_total):
                files.discard_part()
                raise _Retry("the server resumed at another place or the file changed; starting over")
            mode = "ab"
        elif status == 200:
            if not head.startswith(BZ2_MAGIC):
                if _looks_like_html(head, content_type):
                    raise DownloadError(self._html_message(dataset, status, head + response.read(1 << 16)))
                raise DownloadError(f"the server sent something that is not a bzip2 archive "
                                    f"(Content-Type {content_type or 'none'}); nothing was kept")
            if offset:
                log.info("%s: the server sent the whole file (it ignored the resume request, or the file "
                         "changed); restarting from 0", dataset.name)
            length = response.headers.get("Content-Length", "")
            start, total, mode = 0, (int(length) if length.isdigit() else None), "wb"
        else:
            raise _Retry(f"unexpected HTTP {status}")
        files.write_json(files.state, {"url": url, "etag": response.headers.get("ETag"),
                                       "last_modified": response.headers.get("Last-Modified"), "total": total})
        self._stream(dataset, files, response, head, mode, start, total)
        size = files.part.stat().st_size
        if total is not None and size > total:
            files.discard_part()
            raise _Retry(f"received {size} bytes, more than the {total} announced; starting over")
        if total is not None and size < total:
            raise _Retry(f"the connection closed after {size} of {total} bytes")
        return total

    def _stream(self, dataset: Dataset, files: _Files, response, head: bytes, mode: str, start: int,
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
                        raise _Retry(f"the connection broke after {start + received} bytes ({err})") from None
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
    def _disk_error(files: _Files, err: OSError) -> DownloadError:
        hint = _DISK_HINTS.get(err.errno, "check the disk")
        return DownloadError(f"cannot write {files.part}: {err.strerror or err}; {hint} and rerun to resume")


# ---------------------------------------------------------------------------------------------------- import
def _copy_with_progress(src: Path, dst: Path, progress: Optional[bool]) -> None:
    with open(src, "rb") as fin, open(dst, "wb") as fout, tqdm(
        total=src.stat().st_size, desc=f"copy {src.name}", unit="B", unit_scale=True, unit_divisor=1024,
        leave=False, disable=None if progress is None else not progress, file=sys.stderr,
    ) as bar:
        while True:
            data = fin.read(1 << 22)
            if not data:
                break
            fout.write(data)
            bar.update(len(data))
        fout.flush()
        os.fsync(fout.fileno())


def find_archives(from_dir: Union[str, os.PathLike]) -> dict[str, list[tuple[Path, Optional[str], Optional[str]]]]:
    """Archives in ``from_dir`` recognised by name: dataset name -> [(path, model or None, gender or None)]."""
    found: dict[str, list] = {}
    for path in sorted(Path(from_dir).iterdir()):
        if not path.is_file() or not path.name.lower().endswith((".tar.bz2", ".tbz2", ".tbz")):
            continue
        try:
            dataset, model, gender = catalog.parse_archive_name(path.name)
        except KeyError:
            log.info("%s: not an AMASS archive name, ignored", path)
            continue
        found.setdefault(dataset.name, []).append((path, model, gender))
    return found


def import_archives(
    from_dir: Union[str, os.PathLike],
    out_dir: Union[str, os.PathLike],
    datasets: Optional[Iterable[Dataset]] = None,
    *,
    model: str = "smplh",
    gender: str = "gender_specific",
    check: bool = False,
    progress: Optional[bool] = None,
) -> list[DownloadResult]:
    """Bring archives downloaded by hand (``CMU.tar.bz2``, ``CMU_SMPLH_G.tar.bz2``, ...) into ``out_dir`` under
    their canonical names, verified like downloads. The user's files are hard-linked or copied, never moved.
    ``datasets`` None: every recognised archive; otherwise those, and a missing one is a failure."""
    from_dir, out_dir = Path(from_dir), Path(out_dir)
    if not from_dir.is_dir():
        raise DownloadError(f"--from-dir {from_dir} is not a folder")
    found = find_archives(from_dir)
    wanted = [catalog.get(name) for name in found] if datasets is None else list(datasets)
    results = []
    for dataset in wanted:
        started = time.monotonic()
        candidates = found.get(dataset.name, [])
        if not candidates:
            results.append(DownloadResult(dataset.name, "failed", message=(
                f"no archive for it in {from_dir} (looked for {dataset.archive}, "
                f"{dataset.name}_SMPLH_G.tar.bz2 and the like)")))
            continue
        # The requested model first, then names that do not say, then the rest.
        candidates.sort(key=lambda c: (c[1] != model, c[1] is not None, c[2] not in (None, gender)))
        src, src_model, src_gender = candidates[0]
        status, message = _import_one(dataset, src, src_model, src_gender, out_dir, model, gender, check, progress)
        if len(candidates) > 1:
            message += f"; also found, not used: {', '.join(c[0].name for c in candidates[1:])}"
        final = out_dir / dataset.archive
        results.append(DownloadResult(dataset.name, status, final if status != "failed" else None,
                                      final.stat().st_size if status != "failed" else 0,
                                      time.monotonic() - started, message))
    return results


def _import_one(dataset: Dataset, src: Path, src_model: Optional[str], src_gender: Optional[str], out_dir: Path,
                model: str, gender: str, check: bool, progress: Optional[bool]) -> tuple[str, str]:
    files = _Files(out_dir, dataset)
    if files.final.exists() and os.path.samefile(src, files.final):
        return "skipped", "already in place"
    try:
        note = files.check_existing(src_model or model, src_gender or gender, check)
    except DownloadError as err:
        return "failed", str(err)
    if note is not None:
        return "skipped", f"{note}; {src} left alone"
    try:
        verify_archive(src, deep=check)
    except ArchiveCheckError as err:
        return "failed", f"{err}: download it again"
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".{dataset.archive}.import"  # never half-written under the final name
    tmp.unlink(missing_ok=True)
    try:
        try:
            os.link(src, tmp)
            how = "hard link"
        except OSError:  # another file system, or links not allowed
            _copy_with_progress(src, tmp, progress)
            how = "copy"
        if tmp.stat().st_size != src.stat().st_size:
            raise OSError(errno.EIO, "the copy is shorter than the source")
        os.replace(tmp, files.final)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        return "failed", f"cannot import {src} into {out_dir}: {err.strerror or err}"
    files.write_json(files.receipt, {
        "dataset": dataset.name, "archive": dataset.archive, "model": src_model, "gender": src_gender,
        "size": files.final.stat().st_size, "source": "import", "from": str(src),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    variant = f" ({src_model}/{src_gender or '?'} by its name)" if src_model and src_model != model else ""
    return "imported", f"from {src} ({how}){variant}"


# ---------------------------------------------------------------------------------------------------- API + CLI
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


def _duration(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def format_summary(results: list[DownloadResult]) -> str:
    """The end-of-run table: dataset, status, size, time, message."""
    header = ("dataset", "status", "size", "time", "message")
    rows = [(r.dataset, r.status, catalog.format_size(r.size) if r.size else "-", _duration(r.seconds), r.message)
            for r in results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = ["  ".join([*(cell.ljust(w) for cell, w in zip(row[:4], widths)), row[4]]).rstrip()
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  -------")
    failed = sum(not r.ok for r in results)
    lines.append(f"{len(results) - failed} of {len(results)} ok" + (f", {failed} failed" if failed else ""))
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `amass-fast download`."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--datasets", nargs="+", metavar="NAME",
                       help="datasets to fetch (default: the recommended set " + ", ".join(catalog.RECOMMENDED) + ")")
    which.add_argument("--subset", action="store_true", help="a small varied set: " + ", ".join(catalog.SUBSET))
    which.add_argument("--all", action="store_true", help="every dataset offered for --model/--gender")
    parser.add_argument("--model", choices=catalog.MODELS, default="smplh", help="body model release (default smplh)")
    parser.add_argument("--gender", choices=catalog.GENDERS, default="gender_specific",
                        help="gender_specific (default) or neutral (SMPL-X only)")
    parser.add_argument("--out", default="data/downloads", metavar="DIR",
                        help="folder for the archives (default data/downloads)")
    parser.add_argument("--jobs", type=int, default=2, metavar="N", help="archives downloaded at once (default 2)")
    parser.add_argument("--base-url", default=None, metavar="URL",
                        help=f"server address (default ${BASE_URL_ENV} or {catalog.DEFAULT_BASE_URL})")
    parser.add_argument("--from-dir", metavar="DIR",
                        help="import archives you downloaded by hand (CMU.tar.bz2, CMU_SMPLH_G.tar.bz2, ...) from DIR")
    parser.add_argument("--check", action="store_true", help="also test-decompress every archive (slower)")
    parser.add_argument("--retries", type=int, default=5, metavar="N",
                        help="retries per archive after a failure (default 5)")
    parser.add_argument("--backoff", type=float, default=2.0, metavar="SECONDS",
                        help="first pause before a retry, doubled each time (default 2)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                        help="give up on a silent connection after this long, then retry (default 60)")
    parser.epilog = ("Credentials: AMASS_USERNAME/AMASS_PASSWORD, else ~/.netrc (machine download.is.tue.mpg.de), "
                     "else a prompt. Accept each dataset's licence on the AMASS website first.")


def _download_selected(args: argparse.Namespace, datasets: list[Dataset], out_dir: Path) -> list[DownloadResult]:
    base_url = args.base_url or os.environ.get(BASE_URL_ENV) or catalog.DEFAULT_BASE_URL
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme == "http" and not _is_loopback(base_url):
        log.warning("warning: %s is plain http: your password travels unencrypted", parts.hostname)
    offered = [d for d in datasets if d.offers(args.model, args.gender)]
    for d in datasets:
        if d not in offered:  # named explicitly: the catalog may be out of date, so try
            verb = "trying anyway" if args.datasets else "skipped"
            log.warning("%s: the catalog does not list a %s/%s archive; %s", d.name, args.model, args.gender, verb)
    return download_datasets(datasets if args.datasets else offered, out_dir, base_url=base_url, model=args.model,
                             gender=args.gender, jobs=args.jobs, retries=args.retries, backoff=args.backoff,
                             timeout=args.timeout, check=args.check)


def run(args: argparse.Namespace) -> int:
    """`amass-fast download`: fetch or import archives, print a summary; exit 1 if any dataset failed."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
    explicit = bool(args.datasets or args.subset or args.all)
    names = catalog.ALL if args.all else catalog.SUBSET if args.subset else args.datasets or catalog.RECOMMENDED
    out_dir = Path(args.out)
    try:
        datasets = catalog.select(names)
        with logging_redirect_tqdm():  # warnings print above the progress bars
            if args.from_dir:
                results = import_archives(args.from_dir, out_dir, datasets if explicit else None, model=args.model,
                                          gender=args.gender, check=args.check)
            else:
                results = _download_selected(args, datasets, out_dir)
    except (KeyError, CredentialsError, DownloadError) as err:
        print(f"amass-fast download: {err}", file=sys.stderr)
        return 2
    if not results:
        print(f"amass-fast download: no AMASS archives (NAME.tar.bz2, NAME_SMPLH_G.tar.bz2, ...) in {args.from_dir}",
              file=sys.stderr)
        return 1
    print(format_summary(results))
    if any(r.status in ("downloaded", "imported", "skipped") for r in results):
        print(f"next: amass-fast extract --archives {out_dir}")
    return 0 if all(r.ok for r in results) else 1
