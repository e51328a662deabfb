"""When to try again: a transient failure (connection lost, timeout, HTTP 5xx, a short body) is retried after a
pause that doubles each time, up to a limit; anything else fails the dataset at once."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable, Optional

log = logging.getLogger(__name__)


class DownloadError(RuntimeError):
    """One dataset failed for good; the message says why and what to do."""


class Transient(DownloadError):
    """A transient failure (connection lost, timeout, 5xx, short body): pause, then resume."""


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` further attempts after the first, pausing ``backoff`` seconds, doubled each time, at most
    ``max_backoff``."""

    retries: int = 5
    backoff: float = 2.0
    max_backoff: float = 60.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff < 0 or self.max_backoff < 0:
            raise ValueError(f"retries, backoff and max_backoff must be >= 0 (got {self.retries}, {self.backoff}, "
                             f"{self.max_backoff})")

    @property
    def attempts(self) -> int:
        return self.retries + 1

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (0 is the first: no wait)."""
        return 0.0 if attempt == 0 else min(self.backoff * 2 ** (attempt - 1), self.max_backoff)

    def run(self, attempt: Callable[[], None], stop: threading.Event, label: str) -> Optional[Transient]:
        """Call ``attempt`` until it returns (then None) or raises something other than Transient (raised on);
        after the last Transient, return it. ``stop`` set during a pause: DownloadError (interrupted)."""
        last: Optional[Transient] = None
        for number in range(self.attempts):
            if number:
                delay = self.delay(number)
                log.warning("%s: %s; retrying in %.3gs (attempt %d of %d)", label, last, delay, number + 1,
                            self.attempts)
                if stop.wait(delay):
                    raise DownloadError(f"{label}: interrupted; rerun to resume")
            try:
                attempt()
                return None
            except Transient as err:
                last = err
        return last
