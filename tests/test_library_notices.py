"""The studio's processes keep out notices a user cannot act on (studio/__init__.py)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HUB_KERNEL_NOTICE = "kernels-community"


def stderr_of(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stderr


def test_bitsandbytes_hub_kernel_notice_stays_out_once_the_studio_is_imported():
    alone = stderr_of("import bitsandbytes")
    if HUB_KERNEL_NOTICE not in alone:
        pytest.skip("this CPU has no AVX512-BF16: bitsandbytes looks for no hub kernel here")
    assert "pip install kernels" in alone
    quiet = stderr_of("import studio, peft, bitsandbytes")
    assert HUB_KERNEL_NOTICE not in quiet, quiet[-2000:]
