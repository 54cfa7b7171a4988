"""anny's model cache shared by processes (painctl.facemodels.anny_cache)."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
from safetensors.numpy import save_file

from painctl.facemodels.anny_cache import anny_building


def test_a_cache_file_cut_short_is_removed_and_complete_ones_kept(tmp_path):
    """An interrupted build leaves a safetensors file anny would load and fail on in every later run."""
    (tmp_path / "v14").mkdir()
    whole, cut = tmp_path / "v14" / "build_model_data_a.safetensors", tmp_path / "v14" / "load_data_b.safetensors"
    save_file({"blendshapes": np.arange(4000, dtype=np.float32).reshape(40, 100)}, str(whole))
    cut.write_bytes(whole.read_bytes()[:-1])
    other = tmp_path / "v14" / "notes.txt"
    other.write_text("not anny's")
    with anny_building(tmp_path):
        pass
    assert whole.exists() and other.exists()
    assert not cut.exists()


def test_a_second_process_waits_while_one_builds(tmp_path):
    """anny writes its cache files in place: a process that loaded while another wrote could read
    half a file. The second painctl process enters only after the first has left."""
    code = ("import sys, time; from pathlib import Path; from painctl.facemodels.anny_cache import anny_building\n"
            "with anny_building(Path(sys.argv[1])): print(time.time(), flush=True)")
    with anny_building(tmp_path):
        child = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        time.sleep(2.0)
        left = time.time()
    entered = float(child.communicate(timeout=60)[0])
    assert child.returncode == 0
    assert entered >= left


def test_a_cache_painctl_cannot_write_is_used_without_a_lock(tmp_path):
    """A cache nobody can build in (here: under a file, which even root cannot write into) is read
    as it is: no lock, no error of painctl's own."""
    (tmp_path / "file").write_text("")
    with anny_building(tmp_path / "file" / "cache"):
        entered = True
    assert entered
