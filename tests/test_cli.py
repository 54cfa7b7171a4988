"""The command line as users meet it: exit codes, one-line errors, pipes, caching, interruption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import run_painctl


def one_line_error(stderr: str) -> bool:
    lines = [l for l in stderr.splitlines() if l.strip()]
    return len(lines) == 1 and lines[0].startswith("painctl: error: ") and "Traceback" not in stderr


def test_help_lists_sample_mesh_with_an_example(painctl):
    top = painctl("--help")
    assert top.code == 0 and "sample-mesh" in top.stdout and "inspect" in top.stdout and "merge" in top.stdout
    sub = painctl("sample-mesh", "--help")
    assert sub.code == 0 and "Example" in sub.stdout and "--balance" in sub.stdout and "--shard" in sub.stdout


@pytest.mark.parametrize("n", ["0", "-3", "many"])
def test_n_must_be_positive_usage_error(painctl, tmp_path, n):
    result = painctl("sample-mesh", "-n", n, tmp_path / "out")
    assert result.code == 2 and one_line_error(result.stderr) and "-n" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "smpl"], "unknown face model"),
        (["--model", "flame:/nonexistent/flame.pkl"], "no such FLAME file"),
        (["--balance", "height"], "unknown factor"),
        (["--age-groups", "young:40-18"], "LOW above HIGH"),
        (["--ethnicities", "martian"], "not a group"),
    ],
)
def test_bad_values_are_one_line_errors(painctl, tmp_path, args, message):
    result = painctl("sample-mesh", "-n", "2", *args, tmp_path / "out")
    # A bad option value is a usage error (2); a file that is not there is a failure (1).
    assert result.code == (1 if "FLAME file" in message else 2) and one_line_error(result.stderr) and message in result.stderr
    assert not (tmp_path / "out").exists() and os.listdir(tmp_path) == []


def test_malformed_flame_file_is_one_line_error(painctl, tmp_path):
    bad = tmp_path / "flame.pkl"
    bad.write_bytes(b"not a pickle at all")
    result = painctl("sample-mesh", "-n", "2", "--model", f"flame:{bad}", tmp_path / "out")
    assert result.code == 1 and one_line_error(result.stderr) and "pickle" in result.stderr


def test_usage_errors_exit_2(painctl, tmp_path):
    assert painctl("sample-mesh", "-n", "2", "--bogus", tmp_path / "o").code == 2
    assert painctl("sample-mesh", tmp_path / "o").code == 2  # -n is required
    assert painctl("sample-mesh", "-n", "2", "--shard", "3/2", tmp_path / "o").code == 2
    assert painctl("no-such-command").code == 2


def test_out_with_other_params_is_refused_force_replaces_same_params_is_a_cache_hit(painctl, tmp_path):
    out = tmp_path / "heads"
    assert painctl("sample-mesh", "-n", "3", "--seed", "1", out).code == 0
    data = out / "data.h5"
    stamp = (data.stat().st_ino, data.stat().st_mtime_ns)

    hit = painctl("sample-mesh", "-n", "3", "--seed", "1", out)
    assert hit.code == 0 and "cache hit" in hit.stderr
    assert (data.stat().st_ino, data.stat().st_mtime_ns) == stamp  # nothing rewritten

    refused = painctl("sample-mesh", "-n", "3", "--seed", "2", out)
    assert refused.code == 1 and one_line_error(refused.stderr) and "--force" in refused.stderr
    assert (data.stat().st_ino, data.stat().st_mtime_ns) == stamp

    forced = painctl("sample-mesh", "-n", "3", "--seed", "2", "--force", out)
    assert forced.code == 0
    assert json.loads((out / "manifest.json").read_text())["params"]["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["heads"]  # no temporaries left


def test_inspect_refuses_what_is_not_an_artefact(painctl, tmp_path):
    plain_dir = tmp_path / "plain"
    plain_dir.mkdir()
    (tmp_path / "file.txt").write_text("hello")
    for target in (plain_dir, tmp_path / "file.txt", tmp_path / "absent"):
        result = painctl("inspect", target)
        assert result.code == 1 and one_line_error(result.stderr), result.stderr


def test_inspect_of_truncated_data_is_one_line(painctl, tmp_path):
    out = tmp_path / "heads"
    assert painctl("sample-mesh", "-n", "2", out).code == 0
    data = out / "data.h5"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 3])
    result = painctl("inspect", out)
    assert result.code == 1 and one_line_error(result.stderr) and "truncated" in result.stderr


def test_inspect_json_fields(painctl, tmp_path):
    out = tmp_path / "heads"
    assert painctl("sample-mesh", "-n", "6", "--balance", "gender", out).code == 0
    result = painctl("inspect", "--json", out)
    assert result.code == 0
    info = json.loads(result.stdout)
    assert info["stage"] == "sample-mesh" and info["rows"] == 6 and info["params"]["n"] == 6
    assert info["attributes"]["face_model"] == "anny"
    assert info["datasets"]["vertices"]["shape"] == [6, 4538, 3] and info["datasets"]["vertices"]["dtype"] == "float32"
    assert info["counts"]["gender"] == {"female": 3, "male": 3}
    assert len(info["digest"]) == 64 and info["inputs"] == []


def test_pipe_sample_mesh_into_inspect():
    env = dict(os.environ)
    producer = subprocess.Popen([sys.executable, "-m", "painctl", "sample-mesh", "-n", "8", "-"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    consumer = subprocess.Popen([sys.executable, "-m", "painctl", "inspect", "--json", "-"],
                                stdin=producer.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    producer.stdout.close()
    out, err = consumer.communicate(timeout=300)
    producer_err = producer.stderr.read().decode()
    producer.wait(timeout=60)
    assert producer.returncode == 0, producer_err
    assert consumer.returncode == 0, err.decode()
    info = json.loads(out)
    assert info["stage"] == "sample-mesh" and info["rows"] == 8
    assert "8 identities" in producer_err  # the summary table went to stderr, not into the stream


def test_quiet_run_writes_nothing_on_stdout_or_stderr(tmp_path):
    result = run_painctl("-q", "sample-mesh", "-n", "2", tmp_path / "o")
    assert result.returncode == 0 and result.stdout == b"" and result.stderr == b""


def test_interrupted_write_leaves_nothing_complete_looking(tmp_path):
    out = tmp_path / "heads"
    proc = subprocess.Popen([sys.executable, "-m", "painctl", "sample-mesh", "-n", "4000", out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120

        def written() -> int:  # bytes of vertices in the temporary's data.h5 so far
            return max((p.stat().st_size for p in tmp_path.glob(".heads.painctl-tmp-*/data.h5")), default=0)

        while time.monotonic() < deadline and written() < 2_000_000:
            assert proc.poll() is None, "sample-mesh finished before it could be interrupted"
            time.sleep(0.02)
        assert proc.poll() is None and written() >= 2_000_000  # killed mid-write
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert not out.exists()
    leftovers = list(tmp_path.iterdir())
    # kill -9 leaves the temporary and the dead run's lock (taken over as stale by the next run).
    assert all(p.name.startswith(".heads.painctl-tmp-") or p.name == ".heads.painctl-lock" for p in leftovers)
    assert not any((p / "manifest.json").exists() for p in leftovers)  # nothing looks complete
    again = run_painctl("sample-mesh", "-n", "3", out)
    assert again.returncode == 0, again.stderr.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["heads"]  # the stale temporary was cleared
    assert run_painctl("inspect", out).returncode == 0


def test_no_traceback_on_internal_errors_without_debug(painctl, tmp_path):
    out = tmp_path / "heads"
    assert painctl("sample-mesh", "-n", "2", out).code == 0
    (out / "manifest.json").write_text("{broken")
    result = painctl("inspect", out)
    assert result.code == 1 and one_line_error(result.stderr) and "JSON" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["sample-mesh", "-n", "2", "--age-groups", "young:40-18", "OUT"], "painctl: error: --age-groups: 'young:40-18' has LOW above HIGH"),
        (["rig", "--pspi", "8", "--asymmetry", "9", "IN", "OUT"], "painctl: error: --asymmetry must be between 0 and 5 FACS levels, got 9"),
        (["rig", "--pspi", "3-99", "IN", "OUT"], "painctl: error: --pspi: 17 is outside 0-16"),
        (["rig", "--pspi", "8", "--sequence", "2", "IN", "OUT"], "painctl: error: --sequence needs at least 3 frames (onset, apex, offset), got 2"),
        (["rig", "IN", "OUT"], "painctl: error: give exactly one of --pspi (levels) or --au (fixed intensities)"),
        (["render-views", "--pose-jitter", "30", "IN", "OUT"], "painctl: error: --pose-jitter must be 0-15 degrees, got 30"),
        (["export", "--prefix", "a b", "IN", "OUT"], "painctl: error: --prefix must use letters, digits, _ and - only, got 'a b'"),
    ],
)
def test_library_errors_reach_the_command_line_as_its_flags(painctl, tmp_path, args, message):
    result = painctl(*[str(tmp_path / a) if a in ("IN", "OUT") else a for a in args])
    assert result.code == 2 and one_line_error(result.stderr) and result.stderr.strip() == message
    assert not (tmp_path / "OUT").exists()


def test_a_parameter_is_spelled_as_the_running_command_spells_it():
    import click

    from painctl.cli import flag_of

    @click.command()
    @click.option("--pspi", "levels")
    @click.option("-n", "n", type=int)
    @click.option("--maps/--no-maps", default=True)
    @click.argument("rig_path", metavar="RIG")
    def command(levels, n, maps, rig_path):
        pass

    assert [flag_of(command, p) for p in ("pspi", "levels", "n", "maps", "rig_path", "unknown")] == ["--pspi", "--pspi", "-n", "--maps", "RIG", "unknown"]
    assert flag_of(None, "per_identity") == "per_identity"
