"""The package's top level: lazy public names and stage modules as attributes."""
import subprocess
import sys

import pytest


def test_public_names_and_stage_modules_resolve_lazily():
    code = ("import sys, amass_fast as af; assert 'amass_fast.kernels' not in sys.modules; "
            "assert af.kernels.available_backends()[-1] == 'reference'; assert af.fk is af.kernels.fk; "
            "assert af.StickClips.__module__ == 'amass_fast.outputs.dataset'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "ok"


def test_unknown_names_raise_attribute_error():
    import amass_fast

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        amass_fast.nope  # noqa: B018
    with pytest.raises(AttributeError):
        amass_fast._private  # noqa: B018
