"""Which build of amass-fast was imported, and the one warning when it cannot run compiled code.

A source checkout keeps ``amass_fast/`` at the top level, so Python started in that folder imports the sources
there, which have no compiled ``_core`` unless it was built in place: every kernel would then run on numba (about
ten times slower). This module says so, once per process: at import from such a checkout, or when
``backend="auto"`` falls back from cpp for any other reason. It imports nothing of the package.
"""
from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Optional

PACKAGE_DIR = Path(__file__).resolve().parent

_warned = False


def source_checkout() -> Optional[Path]:
    """The checkout folder when this package is imported from its sources (pyproject.toml and csrc/ beside it),
    else None (an installed package)."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").is_file() and (root / "csrc").is_dir() else None


def has_core() -> bool:
    """Whether a compiled amass_fast._core is there to import (it is not imported here)."""
    try:
        return importlib.util.find_spec("amass_fast._core") is not None
    except (ImportError, ValueError):
        return False


def no_core_message(reason: str) -> str:
    """What is wrong and the fix, naming the folder that was imported."""
    root = source_checkout()
    where = f"from the source checkout {root}" if root is not None else f"from {PACKAGE_DIR}"
    fixes = ("run Python from another folder to use the installed package, or build it here with "
             "`pip install -e . --no-build-isolation` or tools/build_inplace.sh" if root is not None else
             "reinstall it with `pip install --force-reinstall amass-fast` (or, in a source checkout, "
             "`pip install -e . --no-build-isolation`)")
    return (f"amass_fast was imported {where} ({PACKAGE_DIR}), which has no working compiled amass_fast._core "
            f"({reason}): the kernels fall back to numba, about ten times slower; {fixes}")


def warn_no_core(reason: str, stacklevel: int = 3) -> None:
    """Warn once per process that the cpp backend is missing (see no_core_message)."""
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(no_core_message(reason), RuntimeWarning, stacklevel=stacklevel)


def check_import() -> None:
    """Called when the package is imported: warn if this is a source checkout without a compiled _core."""
    if source_checkout() is not None and not has_core():
        warn_no_core("it was not built in this folder", stacklevel=4)


__all__ = ["PACKAGE_DIR", "source_checkout", "has_core", "no_core_message", "warn_no_core", "check_import"]
