"""The signals that stop a command as Ctrl-C does (SIGINT raises KeyboardInterrupt by itself): SIGTERM and SIGHUP,
where the platform has them. The CLI turns them into its Stopped exception while a command runs; pool workers
(amass_fast.io.workers) reset them to their default so that they end at once. Only ``signal`` is imported here, so
the CLI reads this table at start-up for free."""
from __future__ import annotations

import signal

STOP_SIGNALS: tuple = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
