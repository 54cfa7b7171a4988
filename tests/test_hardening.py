"""Nothing lost, nothing let in: every stage under bad input, faults and concurrency (issue 13).

Each case runs as a user would: the CLI, in a real subprocess where signals, pipes, terminals or
other processes are involved. The property-based test at the end mutates artefacts (datasets'
dtype, shape, values and attributes, manifest fields, image files) and runs every stage that reads
them: each must refuse with one ``painctl: error:`` line, leave no output and change no input.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_painctl

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def one_line_error(stderr: str | bytes) -> bool:
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    lines = [line for line in text.splitlines() if line.strip()]
    return len(lines) == 1 and lines[0].startswith("painctl: error: ") and "Traceback" not in text


def tree_digest(path: Path) -> str:
    """sha256 over every entry under ``path``: names, file bytes, link targets, and modes."""
    digest = hashlib.sha256()
    for entry in sorted(Path(path).rglob("*")):
        rel = entry.relative_to(path).as_posix()
        if entry.is_symlink():
            digest.update(f"L {rel} {os.readlink(entry)}".encode())
        elif entry.is_file():
            digest.update(f"F {rel} {entry.stat().st_mode:o}".encode() + entry.read_bytes())
        else:
            digest.update(f"D {rel}".encode())
    return digest.hexdigest()


def reseal(art: Path) -> None:
    """Recompute a (mutated) artefact's data.h5 checksums and content digest, as a self-consistent but
    wrong writer would (the per-file digests stay as written)."""
    from painctl.artefact.store import content_digest, dataset_digests, file_sha256

    manifest_path = art / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["checksums"].update({"data.h5": file_sha256(art / "data.h5"), "datasets": dataset_digests(art / "data.h5")})
    manifest["digest"] = content_digest(art)
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True))


def rewrite(art: Path, name: str, data: np.ndarray) -> None:
    """Replace dataset ``name`` of ``art``'s data.h5 by ``data``, keeping its attributes."""
    with h5py.File(art / "data.h5", "r+") as f:
        attrs = dict(f[name].attrs) if name in f else {}
        if name in f:
            del f[name]
        ds = f.create_dataset(name, data=data)
        for key, value in attrs.items():
            ds.attrs[key] = value


def read(art: Path, name: str) -> np.ndarray:
    with h5py.File(art / "data.h5", "r") as f:
        return f[name][()]


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory) -> Path:
    """A tiny real pipeline, built once: heads (2 identities), pain (rig, PSPI 4), views (32 px), heat."""
    base = tmp_path_factory.mktemp("pipeline")
    steps = [
        ("sample-mesh", "-n", "2", "heads"),
        ("rig", "--pspi", "4", "heads", "pain"),
        ("render-views", "--size", "32", "--views", "0/0", "--jobs", "1", "pain", "views"),
        ("heatmap", "--rig", "pain", "views", "heat"),
    ]
    for step in steps:
        result = run_painctl("-q", *step, cwd=base)
        assert result.returncode == 0, result.stderr.decode()
    return base


@pytest.fixture
def work(pipeline, tmp_path) -> Path:
    """A private copy of the pipeline's artefacts (links kept as links)."""
    for name in ("heads", "pain", "views", "heat"):
        shutil.copytree(pipeline / name, tmp_path / name, symlinks=True)
    return tmp_path


def painctl_in(cwd: Path, *args, **kwargs) -> subprocess.CompletedProcess:
    return run_painctl(*args, cwd=cwd, **kwargs)


# ------------------------------------------------------------------------------------- data loss


def test_force_never_replaces_a_file_or_a_directory_painctl_did_not_write(work):
    (work / "precious.txt").write_text("mine")
    (work / "mydir").mkdir()
    (work / "mydir" / "precious.txt").write_text("mine too")
    for target in ("precious.txt", "mydir"):
        for force in ((), ("--force",)):
            result = painctl_in(work, "sample-mesh", "-n", "2", *force, target)
            assert result.returncode == 1 and one_line_error(result.stderr), result.stderr
    assert (work / "precious.txt").read_text() == "mine" and (work / "mydir" / "precious.txt").read_text() == "mine too"
    # A user's file dropped into an artefact is not painctl's either: --force keeps it too.
    (work / "heads" / "notes.txt").write_text("keep")
    result = painctl_in(work, "sample-mesh", "-n", "3", "--force", "heads")
    assert result.returncode == 1 and one_line_error(result.stderr) and "notes.txt" in result.stderr.decode()
    assert (work / "heads" / "notes.txt").read_text() == "keep"


def test_force_replaces_a_painctl_artefact(work):
    result = painctl_in(work, "-q", "sample-mesh", "-n", "3", "--force", "heads")
    assert result.returncode == 0, result.stderr
    assert json.loads((work / "heads" / "manifest.json").read_text())["params"]["n"] == 3
    assert sorted(p.name for p in work.iterdir() if p.name.startswith(".")) == []


def test_distinct_messages_for_empty_dir_file_in_equals_out_and_parameter_clash(work):
    (work / "empty").mkdir()
    (work / "file").write_text("x")
    cases = {
        ("sample-mesh", "-n", "2", "empty"): "is an empty directory",
        ("sample-mesh", "-n", "2", "file"): "is a file, not an artefact",
        ("rig", "--pspi", "4", "--force", "heads", "heads"): "is the input heads",
        ("rig", "--pspi", "4", "--force", "heads", "heads/inner"): "lies inside the input heads",
        ("sample-mesh", "-n", "3", "heads"): "made with other parameters (n: 3 here, 2 there)",
        ("sample-mesh", "-n", "2", "--force", "."): "is the working directory",
    }
    before = tree_digest(work)
    for args, message in cases.items():
        result = painctl_in(work, *args)
        assert result.returncode == 1 and one_line_error(result.stderr) and message in result.stderr.decode(), (args, result.stderr)
    assert tree_digest(work) == before  # nothing replaced, no temporary or lock left
    assert painctl_in(work, "-q", "sample-mesh", "-n", "2", "--force", "empty").returncode == 0  # nothing to lose


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(work):
    first = subprocess.Popen([sys.executable, "-m", "painctl", "-q", "render-views", "--size", "32", "--views", "0/0",
                              "--jobs", "1", "pain", "views128"], cwd=work, stderr=subprocess.PIPE)
    lock = work / ".views128.painctl-lock"
    try:
        deadline = time.monotonic() + 60
        while not lock.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert lock.exists(), "the first writer never took its lock"
        os.kill(first.pid, signal.SIGSTOP)  # hold it mid-write, deterministically
        holder = json.loads(lock.read_text())
        assert holder["pid"] == first.pid and holder["host"]
        second = painctl_in(work, "render-views", "--size", "48", "--views", "0/0", "--jobs", "1", "pain", "views128")
        assert second.returncode == 1 and one_line_error(second.stderr)
        assert f"being written by another painctl run (pid {first.pid}" in second.stderr.decode()
    finally:
        os.kill(first.pid, signal.SIGCONT)
        first.wait(timeout=120)
    assert first.returncode == 0, first.stderr.read().decode()
    assert json.loads((work / "views128" / "manifest.json").read_text())["params"]["size"] == 32
    assert not lock.exists()


def test_a_stale_lock_of_a_dead_process_is_taken_over(work):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    lock = work / ".again.painctl-lock"
    lock.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "token": "x", "started": "then"}))
    result = painctl_in(work, "-q", "sample-mesh", "-n", "2", "again")
    assert result.returncode == 0, result.stderr
    assert not lock.exists() and (work / "again" / "manifest.json").is_file()
    # Another host's lock cannot be checked from here: refused, with the way out.
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere.invalid", "token": "y", "started": "then"}))
    result = painctl_in(work, "sample-mesh", "-n", "3", "--force", "again")
    assert result.returncode == 1 and one_line_error(result.stderr) and "elsewhere.invalid" in result.stderr.decode()


def test_heatmap_and_export_copy_images_instead_of_linking_them(work):
    assert painctl_in(work, "-q", "export", "views", "exported").returncode == 0
    sources = sorted((work / "views" / "images").iterdir())
    for path in list((work / "heat" / "images").iterdir()) + list((work / "exported" / "meshes_inpainted").iterdir()):
        assert path.stat().st_nlink == 1
    before = [p.read_bytes() for p in sources]
    exported = sorted((work / "exported" / "meshes_inpainted").iterdir())[0]
    exported.write_bytes(b"edited")  # editing the export must not edit the source artefact
    assert [p.read_bytes() for p in sources] == before
    # The export is painctl's own: --force may replace it (and only it).
    assert painctl_in(work, "-q", "export", "--force", "views", "exported").returncode == 0


# --------------------------------------------------------------------------------------- let in


def test_a_path_leaving_the_artefact_is_refused_by_every_stage(work):
    names = read(work / "views", "image")
    names[0] = b"../../../../../../etc/hostname"
    rewrite(work / "views", "image", names)
    reseal(work / "views")
    before = tree_digest(work)
    for args in (("export", "views", "out"), ("heatmap", "--rig", "pain", "views", "out"), ("contact-sheet", "views", "out.png"),
                 ("train", "--epochs", "1", "views", "out")):
        result = painctl_in(work, *args)
        assert result.returncode == 1 and one_line_error(result.stderr) and "points outside the artefact" in result.stderr.decode(), (args, result.stderr)
    assert tree_digest(work) == before


def test_a_link_leaving_the_artefact_is_refused(work):
    image = sorted((work / "views" / "images").iterdir())[0]
    image.unlink()
    image.symlink_to("/etc/hostname")
    reseal(work / "views")
    result = painctl_in(work, "export", "views", "out")
    assert result.returncode == 1 and one_line_error(result.stderr) and "through a link" in result.stderr.decode()
    assert not (work / "out").exists()


def test_an_edited_data_file_is_detected_and_the_dataset_named(work):
    pspi = read(work / "pain", "pspi")
    rewrite(work / "pain", "pspi", np.where(pspi > 0, 3.0, 0.0).astype(np.float32))
    result = painctl_in(work, "render-views", "--size", "32", "pain", "out")
    assert result.returncode == 1 and one_line_error(result.stderr)
    assert "data.h5 changed after it was written (/pspi differs)" in result.stderr.decode()


# ------------------------------------------------------------------- accepted when it should be refused


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda v: v.astype(np.int16), "dtype int16, expected float32"),
        (lambda v: v.astype(np.float64), "dtype float64, expected float32"),
        (lambda v: np.where(np.arange(v.size).reshape(v.shape) == 5, np.nan, v).astype(np.float32), "NaN or infinite"),
        (lambda v: np.where(np.arange(v.size).reshape(v.shape) == 5, np.inf, v).astype(np.float32), "NaN or infinite"),
        (lambda v: v[None], "expected (N, V, 3)"),
        (lambda v: v[:, :1000], "outside /vertices"),
    ],
    ids=["int16", "float64", "nan", "inf", "rank", "too-few-vertices"],
)
def test_bad_vertices_are_refused_before_use(work, mutate, message):
    rewrite(work / "heads", "vertices", mutate(read(work / "heads", "vertices")))
    reseal(work / "heads")
    for args in (("rig", "--pspi", "4", "heads", "out"), ("render-neutral", "--size", "32", "heads", "out")):
        result = painctl_in(work, *args)
        assert result.returncode == 1 and one_line_error(result.stderr) and message in result.stderr.decode(), (args, result.stderr)
        assert not (work / "out").exists()


def test_face_indices_out_of_range_are_refused(work):
    faces = read(work / "pain", "faces")
    faces[3, 1] = 10**6
    rewrite(work / "pain", "faces", faces)
    reseal(work / "pain")
    result = painctl_in(work, "render-views", "--size", "32", "pain", "out")
    assert result.returncode == 1 and one_line_error(result.stderr) and "/faces holds index 1000000, outside /vertices" in result.stderr.decode()


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "text"])
def test_damaged_images_are_refused_by_heatmap_export_and_contact_sheet(work, damage):
    image = sorted((work / "views" / "images").iterdir())[1]
    data = image.read_bytes()
    if damage == "truncate":
        image.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        image.write_bytes(data[:60] + bytes([data[60] ^ 0xFF]) + data[61:])
    elif damage == "delete":
        image.unlink()
    else:
        image.write_text("not a png")
    reseal(work / "views")
    for args in (("heatmap", "--rig", "pain", "views", "out"), ("export", "views", "out"), ("contact-sheet", "views", "out.png")):
        result = painctl_in(work, *args)
        assert result.returncode == 1 and one_line_error(result.stderr), (args, result.stderr)
        assert image.name in result.stderr.decode() and not (work / "out").exists() and not (work / "out.png").exists()


def _repaint(image: Path) -> None:
    """Change one pixel of ``image`` and save it again: still a complete, valid PNG."""
    with Image.open(image) as img:
        pixels = np.array(img)
    pixels[pixels.shape[0] // 2, pixels.shape[1] // 2] ^= 0x40
    Image.fromarray(pixels).save(image, format="PNG")


def test_an_edited_image_that_is_still_a_png_is_refused_naming_it(work):
    image = sorted((work / "views" / "images").iterdir())[1]
    _repaint(image)
    reseal(work / "views")  # even with data.h5's checksums and the content digest recomputed
    for args in (("heatmap", "--rig", "pain", "views", "out"), ("export", "views", "out"), ("contact-sheet", "views", "out.png"),
                 ("train", "--epochs", "1", "views", "out")):
        result = painctl_in(work, *args)
        assert result.returncode == 1 and one_line_error(result.stderr), (args, result.stderr)
        text = result.stderr.decode()
        assert f"images/{image.name}) changed after the artefact was written" in text and text.startswith("painctl: error: views:"), text
        assert not (work / "out").exists() and not (work / "out.png").exists()


def test_an_edited_image_in_a_shard_of_a_merged_artefact_is_refused(work):
    for k in (1, 2):
        made = painctl_in(work, "-q", "render-views", "--size", "32", "--views", "0/0", "--jobs", "1", "--shard", f"{k}/2", "pain", f"part{k}")
        assert made.returncode == 0, made.stderr
    merged = painctl_in(work, "-q", "merge", "whole", "part1", "part2")
    assert merged.returncode == 0, merged.stderr
    # The merge is the single run's data, byte for byte: per-file digests live in the manifests only.
    from painctl.artefact import open_artefact

    whole, single = open_artefact(work / "whole"), open_artefact(work / "views")
    for name in ("image", "au", "pspi", "camera"):
        assert np.array_equal(whole.read(name), single.read(name)), name
    assert [whole.resolve(p).read_bytes() == (work / "views" / p).read_bytes() for p in single.read("image")] == [True] * 4
    image = sorted((work / "part2" / "images").iterdir())[0]
    _repaint(image)
    result = painctl_in(work, "export", "whole", "out")
    assert result.returncode == 1 and one_line_error(result.stderr) and f"images/{image.name}) changed after" in result.stderr.decode()


def test_rig_refuses_a_rig_artefact_naming_the_stage_it_needs(work):
    result = painctl_in(work, "rig", "--pspi", "4", "pain", "out")
    assert result.returncode == 1 and one_line_error(result.stderr) and "'sample-mesh'" in result.stderr.decode()


@pytest.mark.parametrize("seed", [str(2**32), str(2**64), "-1"])
def test_seeds_outside_the_documented_range_are_usage_errors(tmp_path, seed):
    result = run_painctl("sample-mesh", "-n", "2", "--seed", seed, tmp_path / "out")
    assert result.returncode == 2 and one_line_error(result.stderr) and "4294967295" in result.stderr.decode()
    from painctl.errors import BadValue
    from painctl.seeding import rng_for

    with pytest.raises(BadValue):
        rng_for(int(seed), 0)


def test_predict_reads_16_bit_grey_and_palette_images(tmp_path):
    from painctl.datasets.images import open_rgb

    ramp = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)  # 0 .. 65520
    Image.fromarray(ramp).save(tmp_path / "grey16.png")
    grey = np.asarray(open_rgb(tmp_path / "grey16.png"))
    assert grey.dtype == np.uint8 and grey.shape == (64, 64, 3)
    np.testing.assert_array_equal(grey[..., 0], (ramp >> 8).astype(np.uint8))  # not clipped to white
    rgb = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(tmp_path / "palette.png")
    expected = np.asarray(Image.open(tmp_path / "palette.png").convert("RGB"))
    np.testing.assert_array_equal(np.asarray(open_rgb(tmp_path / "palette.png")), expected)


def test_unbc_missing_and_short_landmarks_are_warned_or_refused(tmp_path):
    from tests.unbc_tree import make_unbc_tree

    root = tmp_path / "unbc"
    make_unbc_tree(root, n_subjects=2, n_sequences=1, n_frames=3)
    aam = sorted((root / "AAM_landmarks").rglob("*.txt"))
    aam[0].unlink()
    image = sorted((root / "Images").rglob("*.png"))[-1]
    image.unlink()
    from painctl.datasets.unbc import load_unbc

    result = subprocess.run([sys.executable, "-c", f"from painctl.datasets.unbc import load_unbc; print(len(load_unbc({str(root)!r})))"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "1 Frame_Labels/PSPI file has no image" in result.stderr
    assert "1 of 5 frames has no AAM_landmarks file" in result.stderr
    aam[1].write_text("1 2\n" * 10)
    from painctl.errors import PainctlError

    with pytest.raises(PainctlError, match="expected 66 landmark lines"):
        load_unbc(root)


def test_auroc_intervals_stay_within_zero_and_one():
    from painctl.evaluation.metrics import summarise_folds

    folds = [{"auroc_1": v, "mae": m} for v, m in [(1.0, 0.1), (0.7, 0.05), (0.98, 0.0)]]
    summary = summarise_folds(folds)
    assert 0.0 <= summary["auroc_1"]["ci_low"] and summary["auroc_1"]["ci_high"] == 1.0
    assert summary["mae"]["ci_low"] == 0.0


# -------------------------------------------------------------------------------- hangs and faults


def test_out_dot_with_force_is_refused_and_leaves_nothing(work):
    heads = work / "heads"
    before = tree_digest(heads)
    result = painctl_in(heads, "sample-mesh", "-n", "2", "--force", ".")
    assert result.returncode == 1 and one_line_error(result.stderr) and "working directory" in result.stderr.decode()
    assert tree_digest(heads) == before and not [p for p in work.iterdir() if p.name.startswith(".")]


def test_read_only_output_directory_is_one_line(tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir()
    # A read-only bind mount in a private mount namespace: read-only even for root.
    script = f'mount --bind -o ro "{locked}" "{locked}" || exit 99; exec "$0" -m painctl "$@"'
    result = subprocess.run(["unshare", "-m", "sh", "-c", script, sys.executable, "sample-mesh", "-n", "2", str(locked / "out")],
                            capture_output=True, cwd=tmp_path)
    if result.returncode == 99 or b"unshare failed" in result.stderr or b"Operation not permitted" in result.stderr:
        pytest.skip("no private mount namespace here to make a read-only directory")
    assert result.returncode == 1 and one_line_error(result.stderr) and b"cannot write the output here" in result.stderr
    assert list(locked.iterdir()) == []


def test_streaming_to_a_terminal_is_refused_before_work(tmp_path):
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run([sys.executable, "-m", "painctl", "sample-mesh", "-n", "2", "-"], stdout=terminal,
                                stderr=subprocess.PIPE, env=dict(os.environ, TMPDIR=str(tmp_path)), timeout=120)
    finally:
        os.close(terminal)
        os.close(controller)
    assert result.returncode == 1 and one_line_error(result.stderr) and b"terminal" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_stream_cut_short_leaves_no_temporary(tmp_path):
    env = dict(os.environ, TMPDIR=str(tmp_path))
    producer = subprocess.Popen([sys.executable, "-m", "painctl", "-q", "sample-mesh", "-n", "3", "-"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)
    head = producer.stdout.read(100)
    producer.stdout.close()  # like `| head -c 100`
    producer.wait(timeout=120)
    assert len(head) == 100 and b"Traceback" not in producer.stderr.read()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("painctl-out-")] == []


def test_sigterm_of_render_views_cleans_up_quietly(work):
    proc = subprocess.Popen([sys.executable, "-m", "painctl", "-q", "render-views", "--size", "96", "--views",
                             "0/0,-30/0,30/0,0/20", "--jobs", "2", "pain", "views2"], cwd=work, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list(work.glob(".views2.painctl-tmp-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    stderr = proc.stderr.read().decode()
    if proc.returncode == 0:
        pytest.skip("render-views finished before SIGTERM arrived")
    assert proc.returncode == 143 and "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
    assert one_line_error(stderr) and "terminated" in stderr
    assert [p.name for p in work.iterdir() if p.name.startswith(".")] == [] and not (work / "views2").exists()


def _pipe(cwd: Path, command: str) -> subprocess.CompletedProcess:
    painctl = f"{sys.executable} -m painctl"
    return subprocess.run(["bash", "-c", command.replace("painctl ", painctl + " ")], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})


def test_streamed_inputs_are_named_stdin_never_by_their_temporary_path(work):
    for name in ("views", "heat"):
        _repaint(sorted((work / name / "images").iterdir())[1])
    tar = "tar -cf - -C {} ".format(work)
    # (pipe, what its stderr must say): one line each, from the stage that failed.
    failures = [
        (f"{tar} heads | painctl rig --pspi 99 - out", "--pspi"),
        (f"{tar} pain | painctl rig --pspi 4 - out", "stdin: is a 'rig' artefact"),
        (f"{tar} pain | painctl render-neutral --size 32 - out", "stdin: is a 'rig' artefact"),
        (f"{tar} heads | painctl texture - out", "stdin: is a 'sample-mesh' artefact"),
        (f"{tar} heads | painctl render-views - out", "stdin: is a 'sample-mesh' artefact"),
        (f"{tar} views | painctl heatmap --rig pain - out", "stdin: /image row 1 (images/"),
        (f"{tar} views | painctl export - out", "stdin: /image row 1 (images/"),
        (f"{tar} heat | painctl contact-sheet - out.png", "stdin: /image row 1 (images/"),
        (f"{tar} heads | painctl -q rig --pspi 4 - - | painctl render-views --views 999/0 - out", "--views"),
        (f"{tar} heads | painctl -q rig --pspi 4 - - | painctl rig --pspi 4 - out", "stdin: is a 'rig' artefact"),
    ]
    for command, said in failures:
        done = _pipe(work, command)
        assert done.returncode != 0 and one_line_error(done.stderr) and said in done.stderr, (command, done.stderr)
        assert "/tmp/painctl-" not in done.stderr and "painctl-stdin" not in done.stderr, (command, done.stderr)
        assert not (work / "out").exists() and not (work / "out.png").exists()
    # Successes: the summary lines and a cache hit name stdin/stdout or the user's OUT.
    for _ in range(2):
        done = _pipe(work, f"{tar} heads | painctl rig --pspi 4 - - | painctl render-views --size 32 --views 0/0 --jobs 1 - views2")
        assert done.returncode == 0 and "/tmp/" not in done.stderr, done.stderr
    assert "rigged 2 identities into 4 faces (stdout)" in done.stderr and "views2 is up to date (cache hit)" in done.stderr
    assert "/tmp/" not in (work / "views2" / "manifest.json").read_text()
    assert all("/tmp/" not in m.read_text() for m in (work / "views2" / "inputs").rglob("manifest.json"))


# ---------------------------------------------------------------------------------- property test

#: (artefact, stage command) pairs: every stage that reads each kind of artefact. IN is the mutated
#: copy, OUT lies in a directory of its own; other inputs are pristine.
READERS = {
    "heads": [("rig", "--pspi", "4", "{IN}", "{OUT}"), ("render-neutral", "--size", "32", "--texture-size", "64", "{IN}", "{OUT}")],
    "pain": [("render-views", "--size", "32", "--views", "0/0", "--jobs", "1", "{IN}", "{OUT}"),
             ("heatmap", "--rig", "{IN}", "{views}", "{OUT}")],
    "views": [("heatmap", "--rig", "{pain}", "{IN}", "{OUT}"), ("export", "{IN}", "{OUT}"), ("contact-sheet", "{IN}", "{OUT}.png")],
    "heat": [("export", "{IN}", "{OUT}"), ("contact-sheet", "{IN}", "{OUT}.png")],
}

#: Dataset mutations that no reader may accept, even under a manifest resealed to match them.
DATASET_MUTATIONS = {
    "vertices": ["int16", "float64", "drop_axis", "add_axis", "nan", "inf"],
    "faces": ["float32", "index_high", "index_negative", "drop_axis"],
    "uv_faces": ["index_high"],
    "au": ["nan", "too_big", "negative", "drop_column"],
    "pspi": ["nan", "too_big", "negative", "strings", "short"],
    "image": ["escape", "absolute", "missing_file", "int16"],
    "heatmap_png": ["escape", "missing_file"],
    "identity": ["float32"],
    "is_neutral": ["float32"],
    "displacement": ["nan"],
}
#: The mutated datasets each artefact of the pipeline holds.
PRESENT = {
    "heads": ["faces", "identity", "uv_faces", "vertices"],
    "pain": ["au", "displacement", "faces", "identity", "is_neutral", "pspi", "uv_faces", "vertices"],
    "views": ["au", "identity", "image", "is_neutral", "pspi"],
    "heat": ["au", "heatmap_png", "identity", "image", "is_neutral", "pspi"],
}
MANIFEST_MUTATIONS = ["invalid_json", "truncated", "not_object", "schema_version", "wrong_stage", "drop_stage", "drop_digest",
                      "drop_params", "rows_negative", "rows_string", "missing_shard", "bad_checksums", "wrong_data_checksum", "deleted"]
IMAGE_MUTATIONS = ["truncate", "flip_byte", "delete", "empty", "text", "jpeg", "link_outside", "repaint", "recompress"]
ATTRIBUTE_MUTATIONS = ["change_dataset_attr", "add_root_attr", "drop_rows_attr"]


def _mutate_dataset(art: Path, name: str, how: str, row: int) -> None:
    value = read(art, name)
    if how in ("int16", "float64", "float32"):
        value = value.astype(how) if value.dtype.kind != "S" else np.arange(len(value)).astype(how)
    elif how == "drop_axis":
        value = value[0]
    elif how == "add_axis":
        value = value[None]
    elif how in ("nan", "inf"):
        value = value.astype(np.float32)
        value.reshape(-1)[row % value.size] = np.nan if how == "nan" else np.inf
    elif how == "too_big":
        value = value.copy()
        value.reshape(-1)[row % value.size] = 99.0
    elif how == "negative":
        value = value.copy()
        value.reshape(-1)[row % value.size] = -1.0
    elif how == "index_high":
        value = value.copy()
        value.reshape(-1)[row % value.size] = 10**6
    elif how == "index_negative":
        value = value.copy()
        value.reshape(-1)[row % value.size] = -1
    elif how == "drop_column":
        value = value[:, :-1]
    elif how == "strings":
        value = np.array([b"high"] * len(value))
    elif how == "short":
        value = value[:-1]
    elif how in ("escape", "absolute", "missing_file"):
        value = value.copy()
        value[row % len(value)] = {"escape": b"../" * 8 + b"etc/hostname", "absolute": b"/etc/hostname",
                                   "missing_file": b"images/nobody.png"}[how]
    rewrite(art, name, value)


def _mutate_manifest(art: Path, how: str) -> None:
    path = art / "manifest.json"
    text = path.read_text()
    manifest = json.loads(text)
    if how == "invalid_json":
        path.write_text(text.replace("{", "{{", 1))
        return
    if how == "truncated":
        path.write_text(text[: len(text) // 2])
        return
    if how == "deleted":
        path.unlink()
        return
    if how == "not_object":
        manifest = [manifest]
    elif how == "schema_version":
        manifest["schema_version"] = 2
    elif how == "wrong_stage":
        manifest["stage"] = "rig" if manifest["stage"] == "sample-mesh" else "sample-mesh"
    elif how.startswith("drop_"):
        del manifest[how[len("drop_"):]]
    elif how == "rows_negative":
        manifest["rows"] = -4
    elif how == "rows_string":
        manifest["rows"] = "4"
    elif how == "missing_shard":
        manifest["shards"] = ["../nowhere"]
    elif how == "bad_checksums":
        manifest["checksums"] = "none"
    elif how == "wrong_data_checksum":
        manifest["checksums"]["data.h5"] = "0" * 64
    path.write_text(json.dumps(manifest))


def _mutate_image(art: Path, how: str, row: int) -> str:
    images = sorted((art / "images").iterdir())
    image = images[row % len(images)]
    data = image.read_bytes()
    if how == "truncate":
        image.write_bytes(data[: len(data) // 2])
    elif how == "flip_byte":
        at = 40 + row % (len(data) - 60)
        image.write_bytes(data[:at] + bytes([data[at] ^ 0x5A]) + data[at + 1:])
    elif how == "delete":
        image.unlink()
    elif how == "empty":
        image.write_bytes(b"")
    elif how == "text":
        image.write_text("hello")
    elif how == "jpeg":
        Image.open(image).convert("RGB").save(image, format="JPEG")
    elif how == "link_outside":
        image.unlink()
        image.symlink_to("/etc/hostname")
    elif how in ("repaint", "recompress"):
        # Still a valid PNG: one pixel changed, or the same pixels stored at another compression level.
        with Image.open(image) as img:
            pixels = np.array(img)
        if how == "repaint":
            pixels.reshape(-1)[row % pixels.size] ^= 0x40
        Image.fromarray(pixels).save(image, format="PNG", compress_level=9 if how == "recompress" else 6)
    return image.name


def _mutate_attribute(art: Path, how: str, row: int) -> None:
    with h5py.File(art / "data.h5", "r+") as f:
        names: list[str] = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        name = sorted(names)[row % len(names)]
        if how == "change_dataset_attr":
            f[name].attrs["units"] = "furlongs"
        elif how == "add_root_attr":
            f.attrs["edited"] = "by hand"
        elif "painctl_rows" in f[name].attrs:
            del f[name].attrs["painctl_rows"]
        else:
            f[name].attrs["painctl_rows"] = 1


#: Every mutation, each run on several (artefact, reader) pairs that hypothesis draws.
MUTATIONS = ([("dataset", f"{name}:{how}") for name, hows in DATASET_MUTATIONS.items() for how in hows]
             + [("manifest", how) for how in MANIFEST_MUTATIONS] + [("image", how) for how in IMAGE_MUTATIONS]
             + [("attribute", how) for how in ATTRIBUTE_MUTATIONS])


def _targets(kind: str, what: str) -> list[str]:
    if kind == "dataset":
        return [t for t in sorted(READERS) if what.split(":")[0] in PRESENT[t]]
    if kind == "image":
        return ["heat", "views"]
    return sorted(READERS)


@pytest.mark.parametrize("kind, what", MUTATIONS, ids=[f"{k}-{w}" for k, w in MUTATIONS])
@settings(max_examples=4, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_every_reader_refuses_every_mutated_artefact(pipeline, tmp_path_factory, painctl, kind, what, data):
    target = data.draw(st.sampled_from(_targets(kind, what)), label="artefact")
    reader = data.draw(st.integers(0, len(READERS[target]) - 1), label="reader")
    row = data.draw(st.integers(0, 10_000), label="row")
    # A dataset or image edited under the old manifest (the checksum or file digest must notice) or
    # resealed (the schema, the PNG check or the file digest must); the rest never.
    sealed = data.draw(st.booleans(), label="resealed") if kind in ("dataset", "image") else False
    base = tmp_path_factory.mktemp("fuzz")
    for name in ("heads", "pain", "views", "heat"):
        shutil.copytree(pipeline / name, base / name, symlinks=True)
    art = base / target
    if kind == "dataset":
        name, how = what.split(":")
        _mutate_dataset(art, name, how, row)
    elif kind == "manifest":
        _mutate_manifest(art, what)
    elif kind == "image":
        _mutate_image(art, what, row)
    else:
        _mutate_attribute(art, what, row)
    if sealed:
        reseal(art)
    (base / "outs").mkdir()
    out = base / "outs" / "out"
    fill = {"IN": art, "OUT": out, "views": base / "views", "pain": base / "pain"}
    args = [a.format(**{k: str(v) for k, v in fill.items()}) for a in READERS[target][reader]]
    before = {name: tree_digest(base / name) for name in ("heads", "pain", "views", "heat")}
    result = painctl(*args)
    assert result.code in (1, 2) and one_line_error(result.stderr), (kind, what, target, row, sealed, args, result.code, result.stderr)
    assert os.listdir(base / "outs") == [], (kind, what, target, os.listdir(base / "outs"))
    assert {name: tree_digest(base / name) for name in before} == before
    shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------------------------- estimates, checks first


def test_an_output_that_cannot_fit_the_disk_is_refused_with_the_estimate(tmp_path):
    result = run_painctl("sample-mesh", "-n", "10000000", tmp_path / "big", timeout=300)
    assert result.returncode == 1 and one_line_error(result.stderr)
    text = result.stderr.decode()
    assert "needs about 544.6 GB on disk" in text and "--i-know-it-is-big" in text
    assert list(tmp_path.iterdir()) == []


def test_a_run_short_of_memory_and_disk_names_both_in_one_line(tmp_path):
    """Memory is named first (a run that cannot fit in memory is refused for that, whatever the disk
    holds) and the disk after it, so a rerun does not meet a second refusal; either alone is refused alone."""
    from painctl.artefact.resources import check_resources
    from painctl.errors import PainctlError

    huge = 2**62
    with pytest.raises(PainctlError) as both:
        check_resources(tmp_path, disk_bytes=huge, memory_bytes=huge, what="this run")
    text = str(both.value)
    assert text.startswith("this run needs about ") and text.index("of memory") < text.index("on disk")
    assert "\n" not in text and text.endswith("to try anyway")
    for disk, memory, kind, other in ((huge, 0, "on disk", "of memory"), (0, huge, "of memory", "on disk")):
        with pytest.raises(PainctlError) as one:
            check_resources(tmp_path, disk_bytes=disk, memory_bytes=memory)
        assert kind in str(one.value) and other not in str(one.value)
    check_resources(tmp_path, disk_bytes=huge, memory_bytes=huge, override=True)


@pytest.mark.parametrize("args, needs", [
    (("rig", "--pspi", "4", "--per-identity", "10000000", "heads", "out"), "this rig needs about 1.5 TB on disk"),
    (("render-views", "--size", "4096", "--views", ",".join(f"{yaw}/0" for yaw in range(-60, 61, 2)), "--jobs", "2", "pain", "out"),
     "this render-views on 2 processes needs about 410.6 GB of memory"),
])
def test_every_stage_estimates_before_work_and_refuses_what_does_not_fit(work, args, needs):
    result = painctl_in(work, *args)
    assert result.returncode == 1 and one_line_error(result.stderr), result.stderr
    assert needs in result.stderr.decode() and "pass --i-know-it-is-big to try anyway" in result.stderr.decode()
    assert not (work / "out").exists() and not list(work.glob(".out*"))


def test_more_workers_than_memory_holds_are_refused_before_work(tmp_path):
    """Each rig and render-views worker holds its own torch, model and renderer: a --jobs whose
    workers do not fit in the memory available now is refused in one line that names the
    processes, and nothing is written; the same work on one process runs."""
    from painctl.artefact.resources import available_memory, default_jobs
    from painctl.stages import render_views, rig

    available, _ = available_memory()
    if available is None:
        pytest.skip("this system does not report its available memory")
    # Half as many again as fit: the memory available moves while the test runs.
    jobs = str(int(1.5 * available / min(rig.WORKER_BYTES, render_views.WORKER_BYTES)) + 2)
    assert painctl_in(tmp_path, "-q", "sample-mesh", "-n", jobs, "heads").returncode == 0
    for args, out in ((("rig", "--pspi", "4", "heads"), "pain"), (("render-views", "--size", "32", "--views", "0/0", "pain"), "views")):
        refused = painctl_in(tmp_path, *args, "--jobs", jobs, out)
        text = refused.stderr.decode()
        assert refused.returncode == 1 and one_line_error(text), text
        assert f"this {args[0]} on {jobs} processes needs about" in text and "of memory" in text, text
        assert not (tmp_path / out).exists() and not list(tmp_path.glob(f".{out}*"))
        if args[0] == "rig":
            assert painctl_in(tmp_path, "-q", *args, "--jobs", "1", out).returncode == 0
    # Without --jobs a stage starts only the workers that the memory available holds (read before
    # and after the call: the memory available moves while the test runs).
    assert default_jobs(10 * available) == 1 and default_jobs(1) == default_jobs()
    before = available_memory()[0]
    workers = rig.rig_jobs(10**9, None)
    assert workers <= max(1, max(before, available_memory()[0]) // rig.WORKER_BYTES)


def test_size_estimates_are_near_what_the_stages_write(work):
    from painctl.artefact import open_artefact
    from painctl.stages import export, render_views, rig

    def written(path: Path) -> int:
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and "inputs" not in f.relative_to(path).parts)

    heads, pain, views, heat = (open_artefact(work / name) for name in ("heads", "pain", "views", "heat"))
    made = painctl_in(work, "-q", "export", "heat", "exported")
    assert made.returncode == 0, made.stderr
    estimates = {
        "pain": rig.estimate_bytes(heads.rows(), heads.layout()["vertices"][0][1], rig.RigRequest(levels=(4,))).disk_bytes,
        "exported": export.estimate_bytes(heat, list(heat.read("image")), list(heat.read("heatmap_png"))),
    }
    ratios = {name: round(estimate / written(work / name), 2) for name, estimate in estimates.items()}
    # A tiny rig carries a fixed part (the topology) that the estimate of its rows leaves out.
    assert 0.25 <= ratios["pain"] <= 1.5 and 0.95 <= ratios["exported"] <= 1.2, ratios
    # The images and maps of render-views (data.h5 of 4 rows at 32 px is mostly its fixed part).
    pngs = sum(f.stat().st_size for f in (work / "views").rglob("*.png"))
    estimate = render_views.estimate_bytes(views.rows(), 2, render_views.ViewsRequest(size=32, views=[(0.0, 0.0)]), 1).disk_bytes
    assert 0.5 <= estimate / pngs <= 2, (estimate, pngs)


def test_train_checks_memory_and_option_values_before_training(work):
    result = painctl_in(work, "train", "--image-size", "4096", "views", "run")
    assert result.returncode == 1 and one_line_error(result.stderr) and "of memory" in result.stderr.decode()
    for option in ("--lr-heads", "--weight-decay", "--au-weight"):
        result = painctl_in(work, "train", option, "nan", "views", "run")
        assert result.returncode == 2 and one_line_error(result.stderr) and "not a finite number" in result.stderr.decode()
    assert not (work / "run").exists()


def test_train_failing_on_its_input_leaves_no_empty_out(work):
    image = sorted((work / "views" / "images").iterdir())[2]
    image.write_bytes(image.read_bytes()[:80])  # truncated: found only when training reads it
    reseal(work / "views")
    result = painctl_in(work, "-q", "train", "--epochs", "1", "--val-fraction", "0", "views", "run")
    assert result.returncode == 1 and one_line_error(result.stderr), result.stderr
    assert not (work / "run").exists() and not list(work.glob(".run.*"))


def test_predict_checks_its_csv_before_scoring_and_keeps_foreign_files(work):
    image = sorted((work / "views" / "images").iterdir())[0]
    result = painctl_in(work, "predict", "-c", "no-checkpoint", "--csv", "/nope/x.csv", image)
    assert result.returncode == 1 and one_line_error(result.stderr) and "/nope" in result.stderr.decode()
    (work / "mine.csv").write_text("a,b\n1,2\n")
    result = painctl_in(work, "predict", "-c", "no-checkpoint", "--csv", "mine.csv", "--force", image)
    assert result.returncode == 1 and "not written by painctl" in result.stderr.decode()
    assert (work / "mine.csv").read_text() == "a,b\n1,2\n"


def test_eval_and_export_never_replace_a_foreign_directory(work):
    (work / "report").mkdir()
    (work / "report" / "precious.txt").write_text("mine")
    for args in (("eval", "--force", "views", "report"), ("export", "--force", "views", "report")):
        result = painctl_in(work, *args)
        assert result.returncode == 1 and one_line_error(result.stderr) and "did not write" in result.stderr.decode(), result.stderr
    assert (work / "report" / "precious.txt").read_text() == "mine"


def test_checkpoint_weights_are_byte_identical_across_saves():
    import torch

    from painctl.vitpain.checkpoint import _safetensors_bytes

    tensors = {f"block.{i}.{name}": torch.full((3,), float(i)) for i in range(12) for name in ("weight", "bias", "lora_A")}
    blobs = {_safetensors_bytes(dict(reversed(list(tensors.items()))), {"format": "pt", "painctl": "x", "z": "y"}) for _ in range(8)}
    assert len(blobs) == 1
    from safetensors.torch import load

    loaded = load(blobs.pop())
    assert all(torch.equal(loaded[k], v) for k, v in tensors.items())


def test_bare_painctl_prints_help_without_error():
    result = run_painctl()
    assert result.returncode == 0 and b"error" not in result.stderr and b"usage: painctl" in result.stdout and b"sample-mesh" in result.stdout


def _our_processes(token: str) -> list[int]:
    """Live processes whose environment carries ``token`` (a run's workers and resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if token.encode() in (entry / "environ").read_bytes() and (entry / "stat").read_text().split()[2] != "Z":
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.mark.parametrize("delay", [0.0, 0.03, 0.3])
def test_workers_stay_quiet_when_render_views_is_killed_during_their_start_up(work, delay):
    # Killed as the first worker is spawned, while it reads its start-up data, and while it imports.
    token = f"PAINCTL_TEST_RUN={os.getpid()}-{delay}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "PAINCTL_TEST_RUN": token.split("=")[1]}
    proc = subprocess.Popen([sys.executable, "-m", "painctl", "-q", "render-views", "--size", "48", "--views", "0/0,30/0",
                             "--jobs", "2", "pain", "views4"], cwd=work, stderr=subprocess.PIPE, env=env)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + 120
    while proc.poll() is None and len(children.read_text().split()) < 2 and time.monotonic() < deadline:
        time.sleep(0.002)  # the resource tracker, then the first worker
    time.sleep(delay)
    if proc.poll() is not None:
        pytest.skip("render-views finished before it could be killed")
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 20
    while _our_processes(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    # Workers gone, and the resource tracker too (it removes the pool's semaphores as it exits).
    assert _our_processes(token) == [], "workers or their resource tracker outlived their killed parent"
    stderr = proc.stderr.read().decode()
    assert stderr == "", stderr


def test_workers_exit_quietly_when_render_views_is_killed(work):
    proc = subprocess.Popen([sys.executable, "-m", "painctl", "-q", "render-views", "--size", "96", "--views",
                             "0/0,-30/0,30/0,0/20", "--jobs", "2", "pain", "views3"], cwd=work, stderr=subprocess.PIPE)

    def children() -> list[int]:
        try:
            return [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        except OSError:
            return []

    deadline = time.monotonic() + 60
    # Killed mid-work, once the workers have started rendering.
    while not list(work.glob(".views3.painctl-tmp-*/**/*.png")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    workers = children()
    if proc.poll() is not None:
        pytest.skip("render-views finished before it could be killed")
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2] for pid in workers
              if Path(f"/proc/{pid}").exists()) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"]
    assert alive == [], "workers outlived their killed parent"
    stderr = proc.stderr.read().decode()
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


def test_a_worker_killed_mid_render_ends_render_views_with_one_line(work):
    # The out-of-memory killer or a scheduler kills one worker (a multiprocessing.Pool replaced it
    # and waited forever for the result it took with it).
    token = f"{os.getpid()}-worker-killed"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "PAINCTL_TEST_RUN": token}
    proc = subprocess.Popen([sys.executable, "-m", "painctl", "-q", "render-views", "--size", "96", "--views",
                             "0/0,-30/0,30/0,0/20", "--jobs", "2", "pain", "views5"], cwd=work, stderr=subprocess.PIPE, env=env)

    def workers() -> list[int]:
        found = []
        for pid in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split():
            try:
                if b"spawn_main_quietly" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(int(pid))
            except OSError:
                pass
        return found

    deadline = time.monotonic() + 60
    while not list(work.glob(".views5.painctl-tmp-*/**/*.png")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if proc.poll() is not None:
        pytest.skip("render-views finished before a worker could be killed")
    victim = workers()[0]
    os.kill(victim, signal.SIGKILL)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("render-views hung after one of its workers was killed")
    stderr = proc.stderr.read().decode()
    if proc.returncode == 0:
        pytest.skip("the killed worker had finished its part already")
    assert proc.returncode == 1 and one_line_error(stderr), stderr
    assert f"render-views worker {victim} died (killed by signal 9" in stderr, stderr
    assert [p.name for p in work.iterdir() if p.name.startswith(".")] == [] and not (work / "views5").exists()
    deadline = time.monotonic() + 20
    while _our_processes(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _our_processes(token) == [], "workers or their resource tracker outlived the run"


def test_the_worker_named_is_the_one_that_died_even_while_it_is_being_reaped():
    """The executor's thread reaps the dead worker while stopping its siblings (TERM, 143); until it
    has, the dead one's status reads as unknown. The error must still name the dead worker."""
    from painctl.artefact.signals import _death

    class Worker:  # what _death reads of a multiprocessing.Process
        def __init__(self, pid, code, known_after):
            self.pid, self._code, self._at = pid, code, time.monotonic() + known_after

        @property
        def exitcode(self):
            return self._code if time.monotonic() >= self._at else None

    stopped, dead = Worker(11, 128 + signal.SIGTERM, 0.0), Worker(10, -signal.SIGKILL, 0.2)
    assert _death("render-views", [dead, stopped]) == "render-views worker 10 died (killed by signal 9; out of memory?)"
    assert _death("rig", [Worker(12, 3, 0.0), stopped]) == "rig worker 12 died (exit status 3)"


@pytest.mark.slow
def test_a_resumed_training_run_is_bit_identical_to_an_uninterrupted_one(tmp_path):
    from safetensors.torch import load_file

    from painctl.vitpain.config import TrainConfig
    from painctl.vitpain.training import train_model
    from tests.test_train import CFG, make_frames, split

    train, val, _ = split(make_frames(tmp_path / "data", identities=4), val_ids=("0003",), test_ids=())
    config = TrainConfig(epochs=2, batch_size=8, seed=3)
    train_model(train, val, CFG, config, tmp_path / "resumed", progress=False, stop_after=1)  # "killed" after epoch 1
    train_model(train, val, CFG, config, tmp_path / "resumed", progress=False)
    train_model(train, val, CFG, config, tmp_path / "straight", progress=False)
    for name in ("last", "best"):
        a = (tmp_path / "resumed" / name / "model.safetensors").read_bytes()
        b = (tmp_path / "straight" / name / "model.safetensors").read_bytes()
        assert a == b, {k: float((v - load_file(tmp_path / "straight" / name / "model.safetensors")[k]).abs().max())
                        for k, v in load_file(tmp_path / "resumed" / name / "model.safetensors").items()}


def test_a_second_training_run_into_the_same_out_is_refused(work):
    import socket

    # A live holder on this host (this test process) owns the lock of run/.
    lock = work / ".run.painctl-lock"
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "token": "t", "started": "now"}))
    result = painctl_in(work, "-q", "train", "--epochs", "1", "views", "run")
    assert result.returncode == 1 and one_line_error(result.stderr)
    assert f"being written by another painctl run (pid {os.getpid()}" in result.stderr.decode()
    assert not (work / "run").exists() and lock.exists()


def test_an_unreadable_image_is_named_as_the_artefact_names_it(tmp_path):
    from painctl.artefact.images import load_rgb, verify_png
    from painctl.errors import PainctlError

    missing = tmp_path / "images" / "a.png"
    for read in (load_rgb, verify_png):
        with pytest.raises(PainctlError) as err:
            read(missing, where="views", name="images/a.png")
        assert str(err.value).startswith("views: images/a.png: ") and str(tmp_path) not in str(err.value)
    missing.parent.mkdir()
    missing.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(PainctlError, match=r"^views: images/a.png: is not a readable"):
        load_rgb(missing, where="views", name="images/a.png")
