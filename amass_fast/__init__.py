"""amass-fast: AMASS to 25 fps 2D stick-figure training clips, fast.

Public API (imported lazily so that `import amass_fast` and `amass-fast --help` stay quick):

    fk, resample_poses, project, convert, convert_batch, available_backends   (amass_fast.kernels)
    load_body_model, default_body_model, BodyModel                            (amass_fast.body_models)
    load_sequence, Sequence                                                    (amass_fast.formats)
    StickClips                                                                 (amass_fast.dataset)
    RandomCamera, Mirror, ToSchema, Compose                                    (amass_fast.schemas.transforms)
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
    "load_body_model": "body_models", "default_body_model": "body_models", "BodyModel": "body_models",
    "load_sequence": "formats", "Sequence": "formats",
    "StickClips": "dataset",
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
