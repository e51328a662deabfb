"""Progress reporting for long work, on a terminal (a tqdm bar) and in a log file (a line now and then)."""
from __future__ import annotations

import sys
import time
from typing import Iterable, Optional


def _amount(n: float, unit: str) -> str:
    """Bytes in B, KB, MB, GB or TB (powers of 1024)."""
    prefix = ""
    for prefix in ("", "K", "M", "G", "T"):
        if abs(n) < 1024 or prefix == "T":
            break
        n /= 1024.0
    return f"{n:,.1f} {prefix}B" if prefix else f"{n:,.0f} B"


class Progress:
    """A progress bar on a terminal; on a pipe or a log file, a plain line every ``every`` seconds (and at the end),
    so long runs are never silent. Use as a context manager; ``update(n, **postfix)``. It answers the part of
    tqdm's interface the commands use (``total``, ``update``, ``set_postfix``, ``refresh``, ``close``)."""

    def __init__(self, total: Optional[float], desc: str, unit: str, *, stream=None, every: float = 30.0,
                 initial: float = 0, terminal: Optional[bool] = None):
        self.stream = stream if stream is not None else sys.stderr
        self.total, self.desc, self.unit, self.every = total, desc, unit, every
        self.done, self.postfix = initial, {}
        self.started = self.last = time.monotonic()
        self.bar = None
        if terminal if terminal is not None else getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream, dynamic_ncols=True,
                            initial=initial, unit_scale=unit == "B", unit_divisor=1024 if unit == "B" else 1000)

    def update(self, n: float = 1, **postfix: object) -> None:
        self.done += n
        self.postfix.update(postfix)
        if self.bar is not None:
            if postfix:
                self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(n)
        elif time.monotonic() - self.last >= self.every:
            self._line()

    def set_postfix(self, postfix: Optional[dict] = None, refresh: bool = True, **kwargs: object) -> None:
        self.postfix.update(postfix or {}, **kwargs)
        if self.bar is not None:
            self.bar.set_postfix(self.postfix, refresh=refresh)

    def refresh(self) -> None:
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()

    def _line(self) -> None:
        self.last = time.monotonic()
        if self.unit == "B":
            amount = _amount(self.done, "B") + (f" of {_amount(self.total, 'B')}" if self.total else "")
        else:
            amount = f"{self.done:,.0f}" + (f"/{self.total:,.0f}" if self.total else "") + f" {self.unit}s"
        extra = "".join(f", {k} {v}" for k, v in self.postfix.items())
        print(f"{self.desc}: {amount}, {self.last - self.started:,.0f} s{extra}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.done:
            self._line()
        self.done = 0  # a second close prints nothing

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_bar(show: Optional[bool], *, desc: str, unit: str, total: Optional[float] = None, initial: float = 0,
                 position: Optional[int] = None, leave: bool = True, lines: bool = True):
    """A tqdm bar on a terminal (``show`` None) or always (True); nothing with False. Off a terminal with ``show``
    None: plain lines every 30 s (a Progress), or nothing when ``lines`` is False (for bars that another bar's lines
    already cover)."""
    from tqdm import tqdm

    terminal = getattr(sys.stderr, "isatty", lambda: False)()
    if show is None and not terminal:
        return Progress(total, desc, unit, initial=initial, terminal=False) if lines else tqdm(disable=True)
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, unit_scale=unit == "B",
                unit_divisor=1024 if unit == "B" else 1000, position=position, leave=leave, disable=show is False,
                file=sys.stderr)


def progress_iter(items: Iterable, total: Optional[int], desc: str, unit: str, *, terminal: Optional[bool] = None):
    """Iterate ``items`` while reporting progress (see Progress; ``terminal`` forces the bar on or off)."""
    with Progress(total, desc, unit, terminal=terminal) as bar:
        for item in items:
            yield item
            bar.update()
