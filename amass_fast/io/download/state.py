"""What a download leaves on disk, in the output folder, and what it means:

    NAME.tar.bz2.part                        while downloading; resumed with HTTP Range after an interruption
    NAME.tar.bz2                             only once complete and verified
    .amass_fast/downloads/NAME.part.json     the server's validators (ETag, length) for a safe resume
    .amass_fast/downloads/NAME.json          receipt of a finished archive: model, gender, size, origin

Every bookkeeping file is written under a temporary name (amass_fast.io.atomic) and renamed when complete.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from amass_fast.io import atomic, guarded
from amass_fast.io.catalog import Dataset
from amass_fast.io.download.checks import ArchiveCheckError, verify_archive
from amass_fast.io.download.retry import DownloadError


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


class ArchiveFiles:
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

    def remove_leftovers(self) -> None:
        """Delete temporaries a killed run left beside the archive and the bookkeeping files."""
        for path in (self.final, self.state, self.receipt):
            atomic.remove_leftovers(path)

    @staticmethod
    def read_json(path: Path) -> dict:
        try:
            data = guarded.read_json(path, "record")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def write_json(path: Path, data: dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_json(path, data)

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
