"""The command lines users type, as they type them (issue 17): bare `painctl`, `painctl eval --folds 5
unbc/` without OUT, predict's terminal table, continuing a training run, contact-sheet caching and
JPEG, one summary line per stage, ranges in --help, shell completion, man pages, `painctl doctor`."""

from __future__ import annotations

import csv
import datetime
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
import fcntl
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import ROOT, run_painctl
from unbc_tree import make_unbc_tree

TODAY = datetime.date.today().isoformat()
TINY = ("--epochs", "1", "--image-size", "32", "--batch-size", "16")


def one_line_error(stderr: str) -> bool:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return len(lines) == 1 and lines[0].startswith("painctl: error: ") and "Traceback" not in stderr


def last_line(stderr: str) -> str:
    return [line for line in stderr.splitlines() if line.strip()][-1]


# ------------------------------------------------------------------------------------ bare painctl
def test_bare_painctl_prints_a_short_help_and_exits_0():
    res = run_painctl()
    out = res.stdout.decode()
    assert res.returncode == 0 and res.stderr == b""
    assert "error" not in out
    assert "sample-mesh -> render-neutral" in out  # the pipeline
    for line in ("painctl eval --folds 5 unbc/", "painctl doctor", "painctl train"):
        assert line in out
    assert len(out.splitlines()) < 30  # short: the full list is --help's


# ------------------------------------------------------------------------------ eval without OUT
@pytest.fixture(scope="module")
def unbc(tmp_path_factory) -> Path:
    return make_unbc_tree(tmp_path_factory.mktemp("unbc") / "unbc", n_subjects=6, n_sequences=1, n_frames=8)


@pytest.mark.slow
def test_eval_folds_5_unbc_without_out_writes_a_dated_report_dir_and_never_reuses_one(unbc, painctl, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(unbc, tmp_path / "unbc")
    res = painctl("eval", "--folds", "5", *TINY, "unbc/")
    assert res.code == 0, res.stderr
    report = tmp_path / f"unbc-eval-{TODAY}"
    for name in ("report.json", "predictions.csv", "summary.md", "roc.png", "calibration.png", "scatter.png"):
        assert (report / name).is_file(), name
    assert res.stdout == (report / "summary.md").read_text() and "| PSPI PCC |" in res.stdout  # the table on stdout
    assert report.name in last_line(res.stderr)  # said where the full report went
    folds = json.loads((report / "report.json").read_text())["folds"]
    assert len(folds) == 5
    first = (report / "report.json").read_bytes()

    # The same line again: a new directory, the first one untouched.
    ckpt = report / folds[0]["checkpoint"]
    again = painctl("eval", "--folds", "5", "--checkpoint", ckpt, "unbc/")
    assert again.code == 0, again.stderr
    assert (tmp_path / f"unbc-eval-{TODAY}-2" / "report.json").is_file()
    assert (report / "report.json").read_bytes() == first
    # --out DIR chooses; the old positional OUT still works and is refused when it exists.
    chosen = painctl("eval", "--folds", "5", "--checkpoint", ckpt, "--out", tmp_path / "mine", "unbc/")
    assert chosen.code == 0 and (tmp_path / "mine" / "summary.md").is_file()
    refused = painctl("eval", "--folds", "5", "--checkpoint", ckpt, "unbc/", tmp_path / "mine")
    assert refused.code == 1 and one_line_error(refused.stderr) and "--force" in refused.stderr
    twice = painctl("eval", "--checkpoint", ckpt, "--out", tmp_path / "a", "unbc/", tmp_path / "b")
    assert twice.code == 2 and one_line_error(twice.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["unbc", "mine", report.name, f"{report.name}-2"])


# ----------------------------------------------------------------------------- predict on a terminal
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from painctl.vitpain.config import ModelConfig, TrainConfig
    from painctl.vitpain.training import train_model
    from test_train import make_frames, split

    root = tmp_path_factory.mktemp("typed-predict")
    train, val, _ = split(make_frames(root / "data"))
    best = train_model(train, val, ModelConfig(image_size=32), TrainConfig(epochs=1, batch_size=8), root / "run", progress=False)
    return best, root / "data" / "images"


def _on_terminal(args: list[str], columns: int) -> tuple[int, str]:
    """Run painctl with stdout on a pseudo-terminal ``columns`` wide, as in an interactive shell."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen([sys.executable, "-m", "painctl", *map(str, args)], stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=300)
    os.close(master)
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    return proc.returncode, re.sub(r"\x1b\[[0-9;]*m", "", text)  # what the terminal shows, without the styles


def test_predict_table_shows_file_names_fits_the_terminal_and_pipes_tsv(trained, painctl):
    ckpt, images = trained
    neutral = images / "flame_sample_0005_neutral_view_000.png"
    pain = sorted(images.glob("flame_sample_0005_pain_*"))
    code, out = _on_terminal(["predict", "-c", ckpt, "-n", neutral, *pain], columns=80)
    assert code == 0, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 + len(pain)  # a header and one line per image: nothing wrapped
    assert all(len(line) <= 80 for line in lines)
    for line, path in zip(lines[1:], pain):  # the file name, its start cut off where it does not fit
        shown = line.split()[0]
        assert path.name.endswith(shown.lstrip("…")) and len(shown.lstrip("…")) >= 12 and str(path.parent) not in line
    assert len({line.split()[0] for line in lines[1:]}) == len(pain)
    code, roomy = _on_terminal(["predict", "-c", ckpt, "-n", neutral, *pain], columns=120)
    assert [line.split()[0] for line in roomy.splitlines()[1:] if line.strip()] == [p.name for p in pain]
    assert "pspi" in lines[0] and "P(≥1)" in lines[0]
    assert "shots" not in lines[0]  # the last column gave way to the names
    code, wide = _on_terminal(["-v", "predict", "-c", ckpt, "-n", neutral, pain[0]], columns=250)
    assert code == 0 and str(pain[0]) in wide  # -v: the full path
    piped = painctl("predict", "-c", ckpt, "-n", neutral, *pain)  # stdout captured: not a terminal
    rows = piped.stdout.splitlines()
    assert rows[0].split("\t")[:2] == ["image", "pspi"] and [r.split("\t")[0] for r in rows[1:]] == [str(p) for p in pain]


def test_predict_bare_csv_writes_a_new_file_named_after_the_images(trained, painctl, tmp_path, monkeypatch):
    ckpt, images = trained
    monkeypatch.chdir(tmp_path)
    neutral = images / "flame_sample_0005_neutral_view_000.png"
    pain = sorted(images.glob("flame_sample_0005_pain_*"))
    res = painctl("predict", "-c", ckpt, "-n", neutral, *pain, "--csv")
    target = tmp_path / f"{pain[0].stem}-predictions-{TODAY}.csv"
    assert res.code == 0, res.stderr
    with open(target) as fh:
        assert [r["image"] for r in csv.DictReader(fh)] == [str(p) for p in pain]
    assert target.name in last_line(res.stderr)
    assert painctl("predict", "-c", ckpt, "-n", neutral, *pain, "--csv").code == 0
    assert (tmp_path / f"{pain[0].stem}-predictions-{TODAY}-2.csv").is_file()  # the first is kept
    assert painctl("predict", "-c", ckpt, "-n", neutral, "--csv=", *pain).code == 0
    assert (tmp_path / f"{pain[0].stem}-predictions-{TODAY}-3.csv").is_file()
    named = painctl("predict", "-c", ckpt, "-n", neutral, "--csv", tmp_path / "p.csv", *pain)
    assert named.code == 0 and (tmp_path / "p.csv").is_file()
    # A bare --csv before the images would swallow one: refused, nothing written over the image.
    before = pain[0].read_bytes()
    swallowed = painctl("predict", "-c", ckpt, "-n", neutral, "--csv", *pain)
    assert swallowed.code == 2 and one_line_error(swallowed.stderr) and pain[0].read_bytes() == before


# ----------------------------------------------------------------------------- continuing training
def test_train_epochs_10_on_a_finished_run_continues_from_its_last_checkpoint(tmp_path, painctl):
    from test_train import make_threedpain

    data = make_threedpain(tmp_path / "data")
    run = tmp_path / "run"
    args = ("train", data, run, "--batch-size", "8", "--image-size", "32")
    assert painctl(*args, "--epochs", "1").code == 0
    first = json.loads((run / "last" / "training.json").read_text())
    more = painctl(*args, "--epochs", "3")
    assert more.code == 0, more.stderr
    assert "continuing" in more.stderr and "epoch 1 to epoch 3" in more.stderr
    done = json.loads((run / "last" / "training.json").read_text())
    assert done["epoch"] == 3 and [h["epoch"] for h in done["history"]] == [1, 2, 3]
    assert done["history"][0] == first["history"][0]  # epoch 1 was kept, not retrained
    assert done["run"]["train"]["epochs"] == 3
    assert "up to date" in painctl(*args, "--epochs", "3").stderr
    other = painctl(*args, "--epochs", "4", "--lr-heads", "0.001")  # another parameter: refused
    assert other.code == 1 and one_line_error(other.stderr) and "--force" in other.stderr
    assert json.loads((run / "last" / "training.json").read_text())["epoch"] == 3


# -------------------------------------------------------- stages: summary lines, plurals, contact sheet
@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """One identity through every stage, in-process; each stage's stderr kept."""
    import contextlib
    import io

    from painctl import console
    from painctl.cli import main

    root = tmp_path_factory.mktemp("typed-stages")
    steps = {
        "sample-mesh": ("sample-mesh", "-n", "1", root / "heads"),
        "render-neutral": ("render-neutral", "--size", "64", "--texture-size", "64", root / "heads", root / "neutral"),
        "texture": ("texture", "--size", "64", root / "neutral", root / "tex"),
        "rig": ("rig", "--pspi", "16", root / "heads", root / "pain"),  # AU43 = 1: the closing-eyes line comes first
        "render-views": ("render-views", "--size", "64", "--jobs", "1", "--views", "0/0", root / "pain", root / "views"),
        "heatmap": ("heatmap", root / "views", root / "heat"),
    }
    err = {}
    for name, args in steps.items():
        buf = io.StringIO()
        with contextlib.redirect_stderr(buf):
            try:
                main([str(a) for a in args])
            except SystemExit as exc:
                assert exc.code in (0, None), buf.getvalue()
            finally:
                console.verbosity = 0
        err[name] = buf.getvalue()
    return root, err


def test_every_stage_ends_with_one_line_saying_what_it_wrote_and_where(pipeline):
    root, err = pipeline
    where = {"sample-mesh": "heads", "render-neutral": "neutral", "texture": "tex", "rig": "pain", "render-views": "views", "heatmap": "heat"}
    for stage, out in where.items():
        line = last_line(err[stage])
        assert str(root / out) in line, (stage, err[stage])
    assert "1 identity " in last_line(err["sample-mesh"])
    assert "1 neutral face " in last_line(err["render-neutral"])
    assert "1 texture " in last_line(err["texture"])
    assert "rigged 1 identity into 2 faces" in last_line(err["rig"]) and "closing eyes" in err["rig"]
    assert "2 images of 1 identity in 1 view " in last_line(err["render-views"])
    assert "1 pain image" in last_line(err["heatmap"])
    assert not any(s in text for text in err.values() for s in ("1 identities", "1 subjects", "1 images", "1 views"))


def test_contact_sheet_twice_is_a_cache_hit_and_jpg_gets_jpeg(pipeline, painctl, tmp_path, monkeypatch):
    root, _ = pipeline
    monkeypatch.chdir(tmp_path)
    res = painctl("contact-sheet", root / "heat")
    sheet = tmp_path / "heat-contact-sheet.png"
    assert res.code == 0, res.stderr
    assert sheet.name in last_line(res.stderr)
    with Image.open(sheet) as im:
        assert im.format == "PNG"
    stamp = (sheet.stat().st_ino, sheet.stat().st_mtime_ns)
    hit = painctl("contact-sheet", root / "heat")
    assert hit.code == 0 and "cache hit" in hit.stderr and (sheet.stat().st_ino, sheet.stat().st_mtime_ns) == stamp
    other = painctl("contact-sheet", "--tile", "64", root / "heat")
    assert other.code == 1 and one_line_error(other.stderr) and "--force" in other.stderr
    assert painctl("contact-sheet", "--tile", "64", "--force", root / "heat").code == 0
    with Image.open(sheet) as im:
        assert im.height < 160
    for name in ("sheet.jpg", "sheet.JPEG"):
        assert painctl("contact-sheet", root / "views", tmp_path / name).code == 0
        assert (tmp_path / name).read_bytes()[:3] == b"\xff\xd8\xff"
        with Image.open(tmp_path / name) as im:
            assert im.format == "JPEG"
    again = painctl("contact-sheet", root / "views", tmp_path / "sheet.jpg")
    assert again.code == 0 and "cache hit" in again.stderr
    bad = painctl("contact-sheet", root / "views", tmp_path / "sheet.gif")
    assert bad.code == 1 and one_line_error(bad.stderr) and ".jpg" in bad.stderr and not (tmp_path / "sheet.gif").exists()


def test_help_shows_the_ranges_that_are_enforced(painctl):
    helps = {
        ("render-views", "--size"): "16<=x<=4096",
        ("render-neutral", "--size"): "16<=x<=4096",
        ("contact-sheet", "--tile"): "16<=x<=1024",
        ("texture", "--size"): "64<=x<=8192",
        ("rig", "--asymmetry"): "(0-5)",
        ("rig", "--per-identity"): "x>=1",
    }
    for (command, option), text in helps.items():
        out = painctl(command, "--help").stdout
        block = out[out.index(f"\n  {option} "):]  # the option's own entry, not an example
        assert text in " ".join(block[:300].split()), (command, option)
    res = painctl("render-views", "--size", "8", "a", "b")
    assert res.code == 2 and one_line_error(res.stderr) and "16<=x<=4096" in res.stderr


# ------------------------------------------------------------------------- completion and man pages
def test_bash_completion_script_completes_commands_and_options(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "painctl").write_text(f"#!/bin/sh\nexec {sys.executable} -m painctl \"$@\"\n")
    (bindir / "painctl").chmod(0o755)
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}")
    script = subprocess.run(["painctl"], env=dict(env, _PAINCTL_COMPLETE="bash_source"), capture_output=True, text=True, check=True).stdout
    assert "complete -o nosort -F _painctl_completion painctl" in script
    probe = script + '\nCOMP_WORDS=(painctl render-v); COMP_CWORD=1; _painctl_completion painctl; echo "${COMPREPLY[@]}"' \
                     '\nCOMPREPLY=(); COMP_WORDS=(painctl render-views --si); COMP_CWORD=2; _painctl_completion painctl; echo "${COMPREPLY[@]}"\n'
    out = subprocess.run(["bash", "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.splitlines() == ["render-views", "--size"], out.stderr
    for shell, marker in (("zsh", "#compdef painctl"), ("fish", "complete --no-files --command painctl")):
        text = subprocess.run(["painctl"], env=dict(env, _PAINCTL_COMPLETE=f"{shell}_source"), capture_output=True, text=True, check=True).stdout
        assert marker in text


def test_make_install_completion_and_install_man(tmp_path):
    prefix = tmp_path / "prefix"
    painctl = f"{sys.executable} -m painctl"
    subprocess.run(["make", "-s", "-C", ROOT, "install-completion", "install-man", f"PREFIX={prefix}", f"PAINCTL={painctl}"],
                   check=True, capture_output=True, timeout=300)
    bash = (prefix / "share/bash-completion/completions/painctl").read_text()
    assert "_painctl_completion" in bash
    assert "#compdef painctl" in (prefix / "share/zsh/site-functions/_painctl").read_text()
    assert "painctl" in (prefix / "share/fish/vendor_completions.d/painctl.fish").read_text()
    env = dict(os.environ, MANPATH=str(prefix / "share/man"), MANPAGER="cat", MANWIDTH="100")
    where = subprocess.run(["man", "-w", "painctl-rig"], env=env, capture_output=True, text=True)
    assert where.returncode == 0 and where.stdout.strip() == str(prefix / "share/man/man1/painctl-rig.1")
    for page in ("painctl-rig", "painctl-doctor", "painctl"):
        shown = subprocess.run(["man", page], env=env, capture_output=True, text=True)
        assert shown.returncode == 0 and "NAME" in shown.stdout and page in shown.stdout
    assert sorted(p.name for p in (prefix / "share/man/man1").iterdir()) == sorted(p.name for p in (ROOT / "man").glob("*.1"))


# ---------------------------------------------------------------------------------------- doctor
def test_doctor_reports_renderer_cuda_backends_weights_caches_and_disk(tmp_path):
    hub = tmp_path / "hub"
    snapshot = hub / "models--kandinsky-community--kandinsky-2-2-prior" / "snapshots" / "0123abc"
    snapshot.mkdir(parents=True)
    (snapshot / "model_index.json").write_text("{}")
    (hub / "models--kandinsky-community--kandinsky-2-2-prior" / "refs").mkdir()
    (hub / "models--kandinsky-community--kandinsky-2-2-prior" / "refs" / "main").write_text("0123abc")
    # Hunyuan3D's loader fetches one subfolder only: that counts as present.
    paint = hub / "models--tencent--Hunyuan3D-2.1" / "snapshots" / "4567def" / "hunyuan3d-paintpbr-v2-1"
    paint.mkdir(parents=True)
    (paint / "config.json").write_text("{}")
    dino = tmp_path / "my-dinov3"
    dino.mkdir()
    (dino / "config.json").write_text("{}")
    env = dict(os.environ, HF_HUB_CACHE=str(hub))
    res = subprocess.run([sys.executable, "-m", "painctl", "doctor", "--model", f"dinov3={dino}"], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr  # the embedded defaults work on this machine
    out = res.stdout
    lines = out.splitlines()
    egl = next(line for line in lines if "EGL renderer" in line)
    assert egl.startswith("ok") and "GL_RENDERER " in egl
    for name in ("CUDA", "pytorch3d", "accelerate", "Hunyuan3D code", "Kandinsky 2.2 depth ControlNet", "Kandinsky 2.2 inpainting",
                 "DINOv3 backbone", "anny head model", "free disk (working directory)"):
        assert any(name in line for line in lines), name
    prior = next(line for line in lines if "Kandinsky 2.2 prior" in line)
    assert prior.startswith("ok") and "in the Hugging Face cache" in prior
    assert next(line for line in lines if "DINOv3 backbone" in line).startswith("ok")
    assert next(line for line in lines if "Hunyuan3D 2.1 paint weights" in line).startswith("ok")
    for i, line in enumerate(lines):  # every missing part is followed by the line that fixes it
        if line.startswith("missing"):
            assert lines[i + 1].strip().startswith("-> "), line
    controlnet = lines.index(next(line for line in lines if "Kandinsky 2.2 depth ControlNet" in line))
    assert "hf download kandinsky-community/kandinsky-2-2-controlnet-depth" in lines[controlnet + 1]
    assert lines[-1].startswith("the embedded defaults work here")
    as_json = json.loads(subprocess.run([sys.executable, "-m", "painctl", "doctor", "--json"], env=env, capture_output=True, text=True,
                                        timeout=300, check=True).stdout)
    assert as_json["defaults_work"] is True and {c["name"] for c in as_json["checks"]} >= {"EGL renderer", "CUDA", "torch"}
    bad = run_painctl("doctor", "--model", "dalle=/x")
    assert bad.returncode == 1 and one_line_error(bad.stderr.decode()) and "unknown kind" in bad.stderr.decode()


def test_doctor_says_when_the_defaults_do_not_work():
    from painctl.diagnostics import Check, defaults_work, format_report, run_checks

    broken = run_checks(egl=lambda: Check("EGL renderer", False, "no EGL OpenGL 3.3 context (test)", "sudo apt-get install libegl1", required=True))
    assert not defaults_work(broken)
    text = format_report(broken)
    assert text.splitlines()[-1] == "the embedded defaults do NOT work here: EGL renderer"
    assert text.splitlines()[0].startswith("FAIL") and "-> sudo apt-get install libegl1" in text.splitlines()[1]
