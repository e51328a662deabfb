"""amass-fast: AMASS to 25 fps 2D stick-figure training clips, fast.

Public API (imported lazily so that `import amass_fast` and `amass-fast --help` stay quick):

    fk, resample_poses, project, convert, convert_batch, available_backends   (amass_fast.kernels)
    load_body_model, default_body_model, BodyModel                            (amass_fast.io.body_models)
    load_sequence, Sequence                                                    (amass_fast.io.formats)
    StickClips                                                                 (amass_fast.outputs.dataset)
    RandomCamera, Mirror, ToSchema, Compose                                    (amass_fast.schemas.transforms)

The package by layer; imports flow one way, downwards (tests/test_imports.py enforces it):

    harness/    demo, bench, baselines, synthetic data, the test server, the hostile corpus (selftest)
    cli/        one module per command; the shared flag types
    process/  labels/  humanml3d/  outputs/     the jobs: AMASS -> clips, labels, HumanML3D's features, files
    kernels/  io/                               the compiled hot path and its backends; files in and out
    schemas/                                    skeleton, layouts, cameras, mirroring (the shared tables)
    finite.py  _build.py                        float checks every layer shares; the build and import check

Where to add a schema: schemas/layouts.py (and its kernel in csrc/); a label source: a module in labels/; a
backend: an adapter in kernels/backends/.
"""
from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from amass_fast import _build

__version__ = "0.1.0"

_build.check_import()  # a source checkout without its compiled _core warns once, naming the fix

_EXPORTS = {
    "fk": "kernels", "resample_poses": "kernels", "project": "kernels", "convert": "kernels",
    "convert_batch": "kernels", "available_backends": "kernels", "set_num_threads": "kernels",
    "load_body_model": "io.body_models", "default_body_model": "io.body_models", "BodyModel": "io.body_models",
    "load_sequence": "io.formats", "Sequence": "io.formats",
    "StickClips": "outputs.dataset",
    "RandomCamera": "schemas.transforms", "Mirror": "schemas.transforms", "ToSchema": "schemas.transforms",
    "Compose": "schemas.transforms",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        if not name.startswith("_") and importlib.util.find_spec(f"amass_fast.{name}") is not None:
            return importlib.import_module(f"amass_fast.{name}")  # a stage module: amass_fast.kernels, ...
        raise AttributeError(f"module 'amass_fast' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"amass_fast.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
