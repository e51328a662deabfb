"""Authenticated, resumable, verified download of AMASS archives (`amass-fast download`).

Protocol (docs/CONVENTIONS.md, "Download protocol"): one address per archive (catalog.archive_url); the login goes
as a form POST (``username``, ``password``) with every request, and the login cookie the server sets is kept. A
wrong login or an unaccepted licence comes back as an HTML page, often with status 200, so a body is trusted only if
it starts with ``BZh``. A finished archive is verified (bzip2 magic, announced length, bzip2 end-of-stream marker;
--check also test-decompresses) before it gets its final name.

One module per job:

    transfer   HTTP: request, resume with Range, stream to NAME.tar.bz2.part, verify, rename (Downloader)
    retry      which failures are retried, and the pauses between attempts (RetryPolicy)
    state      what is on disk in the output folder: .part, resume validators, receipts (ArchiveFiles)
    checks     is a file a complete bzip2 archive (verify_archive); open only regular files (open_regular)
    importer   --from-dir: archives downloaded by hand, hard-linked or copied in, verified

The command (its flags, the checks before any work, the summary table) is amass_fast.cli.download.

The password lives only in memory: urllib in this process sends it; nothing prints, logs or stores it.
"""
from amass_fast.io import catalog  # noqa: F401  (kept as an attribute: download.catalog)
from amass_fast.io.download.checks import (BZ2_MAGIC, ArchiveCheckError, NotRegularFileError, has_bz2_end,
                                           looks_like_html, open_regular, verify_archive)
from amass_fast.io.download.importer import find_archives, import_archives
from amass_fast.io.download.retry import DownloadError, RetryPolicy, Transient
from amass_fast.io.download.state import ArchiveFiles, DownloadResult
from amass_fast.io.download.transfer import BASE_URL_ENV, CHUNK, Downloader, download_datasets

__all__ = ["BZ2_MAGIC", "BASE_URL_ENV", "CHUNK", "ArchiveCheckError", "ArchiveFiles", "DownloadError",
           "DownloadResult", "Downloader", "NotRegularFileError", "RetryPolicy", "Transient",
           "download_datasets", "find_archives", "has_bz2_end", "import_archives",
           "looks_like_html", "open_regular", "verify_archive"]
