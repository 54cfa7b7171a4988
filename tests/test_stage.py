"""The stage runner: a new stage written as only a declaration and a body gets the cache check (before
its models load), the atomic write, the --force rule, shard bounds, the estimate and its summary line
from painctl.artefact.stage.run."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from painctl.artefact import create_rows, open_artefact, write_dataset
from painctl.artefact.merge import merge_shards
from painctl.artefact.shard import Shard
from painctl.artefact.stage import Input, Parameters, RunDirectory, SingleFile, Stage, run
from painctl.errors import ArtefactError, BadValue, PainctlError


@dataclass(frozen=True)
class NoiseParams(Parameters):
    n: int = 5
    scale: float = 1.0
    seed: int = 0

    def check(self) -> None:
        if self.n < 1:
            raise BadValue("n", f"must be at least 1, got {self.n}")


loads: list[str] = []


def _load(ctx):
    loads.append(str(ctx.path))
    return {"offset": 100.0}


def _noise(ctx) -> str:
    values = create_rows(ctx.h5, "value", (ctx.count, 3), np.float64)
    for k, item in enumerate(ctx.track(range(ctx.start, ctx.stop))):
        values[k] = ctx.models["offset"] + ctx.params.scale * ctx.rng(item).normal(size=3)
    write_dataset(ctx.h5, "item", np.arange(ctx.start, ctx.stop))
    if ctx.params.scale < 0:
        raise RuntimeError("the body failed half way")
    return f"drew {ctx.count} items into {ctx.path}"


#: The whole of a new stage: its parameters, its body and this declaration.
NOISE = Stage("noise", NoiseParams, _noise, items=lambda inputs, params: params.n, load=_load)


@dataclass(frozen=True)
class SumParams(Parameters):
    pass


def _sum(ctx) -> str:
    write_dataset(ctx.h5, "total", ctx.inputs["noise"].read("value").sum(axis=1))
    return f"summed into {ctx.path}"


SUM = Stage("sum", SumParams, _sum, inputs=(Input("noise", stages=("noise",), require={"value": "N,3:f"}),),
            items=lambda inputs, params: inputs["noise"].rows())


def test_a_declared_stage_writes_its_artefact_and_hits_the_cache_before_loading(tmp_path, capsys):
    loads.clear()
    out = run(NOISE, tmp_path / "a", NoiseParams(n=4, seed=1))
    art = open_artefact(out, stage="noise")
    assert art.params == {"n": 4, "scale": 1.0, "seed": 1, "shard": "1/1"} and art.rows() == 4
    assert np.all(np.abs(art.read("value") - 100.0) < 10) and loads == [str(tmp_path / "a")]
    assert f"drew 4 items into {tmp_path / 'a'}" in capsys.readouterr().err.splitlines()[-1]
    stamp = (tmp_path / "a" / "data.h5").stat().st_mtime_ns
    assert run(NOISE, tmp_path / "a", NoiseParams(n=4, seed=1)) == out
    assert "up to date (cache hit)" in capsys.readouterr().err
    assert loads == [str(tmp_path / "a")] and (tmp_path / "a" / "data.h5").stat().st_mtime_ns == stamp  # no model built, nothing rewritten
    # Same parameters, same bytes.
    again = run(NOISE, tmp_path / "b", NoiseParams(n=4, seed=1))
    assert (again / "data.h5").read_bytes() == (out / "data.h5").read_bytes()


def test_other_parameters_need_force_and_bad_ones_are_refused_before_anything(tmp_path):
    run(NOISE, tmp_path / "a", NoiseParams(n=3))
    with pytest.raises(PainctlError, match=r"other parameters \(scale: 2.0 here, 1.0 there\); use force=True"):
        run(NOISE, tmp_path / "a", NoiseParams(n=3, scale=2.0))
    run(NOISE, tmp_path / "a", NoiseParams(n=3, scale=2.0), force=True)
    assert open_artefact(tmp_path / "a").params["scale"] == 2.0
    loads.clear()
    with pytest.raises(BadValue, match="^n must be at least 1, got 0$") as info:
        run(NOISE, tmp_path / "c", NoiseParams(n=0))
    assert info.value.params == ("n",) and not (tmp_path / "c").exists() and loads == []


def test_a_failing_body_leaves_no_output_and_keeps_the_old_one(tmp_path):
    run(NOISE, tmp_path / "a", NoiseParams(n=3))
    before = (tmp_path / "a" / "data.h5").read_bytes()
    with pytest.raises(RuntimeError, match="half way"):
        run(NOISE, tmp_path / "new", NoiseParams(n=3, scale=-1.0))
    with pytest.raises(RuntimeError, match="half way"):
        run(NOISE, tmp_path / "a", NoiseParams(n=3, scale=-1.0), force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]  # no OUT, no temporary, no lock left behind
    assert (tmp_path / "a" / "data.h5").read_bytes() == before


def test_shards_take_their_bounds_and_merge_into_the_whole_run(tmp_path):
    whole = open_artefact(run(NOISE, tmp_path / "whole", NoiseParams(n=5, seed=7)))
    parts = [run(NOISE, tmp_path / f"part{k}", NoiseParams(n=5, seed=7), shard=Shard(k, 3)) for k in (1, 2, 3)]
    assert [open_artefact(p).read("item").tolist() for p in parts] == [[0], [1, 2], [3, 4]]
    merged = open_artefact(merge_shards(tmp_path / "merged", parts))
    assert np.array_equal(merged.read("value"), whole.read("value"))  # each item draws from its own stream
    assert merged.params == {"n": 5, "scale": 1.0, "seed": 7, "merged_from": ["1/3", "2/3", "3/3"]}


def test_inputs_are_opened_checked_and_recorded(tmp_path):
    noise = run(NOISE, tmp_path / "noise", NoiseParams(n=2))
    out = run(SUM, tmp_path / "sum", SumParams(), {"noise": str(noise)})
    manifest = json.loads((out / "manifest.json").read_text())
    assert [i["stage"] for i in manifest["inputs"]] == ["noise"] and manifest["params"] == {"shard": "1/1"}
    with pytest.raises(ArtefactError, match="is a 'sum' artefact, expected 'noise'"):
        run(SUM, tmp_path / "sum2", SumParams(), {"noise": out})
    assert not (tmp_path / "sum2").exists()


def test_the_estimate_refuses_what_does_not_fit_before_writing(tmp_path):
    big = Stage("noise", NoiseParams, _noise, items=lambda inputs, params: params.n, load=_load,
                estimate=lambda ctx: {"disk_bytes": 1 << 60, "what": f"noise of {ctx.count} items"})
    loads.clear()
    with pytest.raises(PainctlError, match="noise of 2 items needs about .* on disk"):
        run(big, tmp_path / "a", NoiseParams(n=2))
    assert not (tmp_path / "a").exists() and loads == []  # refused before its model was built
    run(big, tmp_path / "a", NoiseParams(n=2), big_ok=True)
    assert open_artefact(tmp_path / "a").rows() == 2
    # big_ok is a run option, not a parameter: not recorded, so the rerun without it is a cache hit
    # (decided before the estimate), and the manifest's params are the dataclass's alone.
    assert open_artefact(tmp_path / "a").params == {"n": 2, "scale": 1.0, "seed": 0, "shard": "1/1"}
    loaded = len(loads)
    run(big, tmp_path / "a", NoiseParams(n=2))
    assert len(loads) == loaded


def test_a_stage_without_items_does_not_shard(tmp_path):
    whole = Stage("sum", SumParams, _sum, inputs=SUM.inputs)  # no items: one piece of work
    noise = run(NOISE, tmp_path / "n", NoiseParams(n=2))
    with pytest.raises(BadValue, match="shard does not apply to sum"):
        run(whole, tmp_path / "s", SumParams(), {"noise": noise}, shard=Shard(1, 2))
    assert open_artefact(run(whole, tmp_path / "s", SumParams(), {"noise": noise})).params == {}


def test_a_refused_estimate_never_loads_the_inpainting_model(rig, tmp_path):
    """render-views with Kandinsky inpainting (a tiny real pipeline): the estimate refuses before the
    pipeline is built; the same stage's load, once it fits, does build it (so the probe can fail)."""
    import sys
    from pathlib import Path

    import painctl
    from painctl.diffusion import inpaint
    from painctl.stages.render_views import check_inpaint_model

    sys.path.insert(0, str(Path(__file__).parent))
    from tiny_pipelines import build_inpaint

    model = str(build_inpaint(tmp_path / "inpaint"))
    inpaint._cache.clear()
    # 40 views of 4096 px: about 130 GB of frame buffers per worker, more than any machine has free.
    views = ",".join(f"{yaw}/{pitch}" for yaw in range(-45, 50, 10) for pitch in (-10, 0, 5, 10))
    with pytest.raises(PainctlError, match="this render-views needs about .* of memory"):
        painctl.render_views(rig, tmp_path / "views", views=views, size=4096, background="kandinsky-inpaint", inpaint_model=model,
                             inpaint_steps=1, jobs=1)
    assert inpaint._cache == {} and not (tmp_path / "views").exists()
    check_inpaint_model(model, load=True)  # what render-views' load does
    assert len(inpaint._cache) == 1
    inpaint._cache.clear()


# ------------------------------------------------------------------ the other output kinds


@dataclass(frozen=True)
class NoteParams(Parameters):
    text: str = "hello"


def _note_stamp(path):
    lines = path.read_text().splitlines()
    return lines[0][len("# stamp "):] if lines and lines[0].startswith("# stamp ") else None


def _note(ctx) -> str:
    if ctx.params.text == "fail":
        ctx.file.write_text("half a note")
        raise RuntimeError("the body failed half way")
    ctx.file.write_text(f"# stamp {ctx.writer.stamp}\n{ctx.params.text}\n")
    ctx.result = ctx.params.text
    return f"wrote a note to {ctx.path}"


def _note_name(out) -> None:
    if not str(out).endswith(".txt"):
        raise PainctlError(f"{out}: a note's name must end in .txt")


#: A stage whose OUT is one text file, stamped with its parameters.
NOTE = Stage("note", NoteParams, _note, load=_load,
             output=SingleFile(what="note", ours=lambda path: _note_stamp(path) is not None, stamp=lambda ctx: json.dumps(ctx.params.text),
                               read_stamp=_note_stamp, check=_note_name))


def test_a_single_file_output_is_atomic_cached_by_its_stamp_and_replaced_only_if_ours(tmp_path, capsys):
    loads.clear()
    out = tmp_path / "note.txt"
    assert run(NOTE, out, NoteParams("hello")) == "hello" and out.read_text() == '# stamp "hello"\nhello\n'
    stamp = out.stat().st_mtime_ns
    assert run(NOTE, out, NoteParams("hello")) == out and out.stat().st_mtime_ns == stamp  # cache hit: returns OUT, no load
    assert "up to date (cache hit)" in capsys.readouterr().err and len(loads) == 1
    with pytest.raises(PainctlError, match="already exists; use force=True"):
        run(NOTE, out, NoteParams("other"))
    assert run(NOTE, out, NoteParams("other"), force=True) == "other" and out.read_text().endswith("other\n")
    with pytest.raises(RuntimeError, match="half way"):
        run(NOTE, out, NoteParams("fail"), force=True)
    assert out.read_text().endswith("other\n") and sorted(p.name for p in tmp_path.iterdir()) == ["note.txt"]  # no temporary left
    mine = tmp_path / "mine.txt"
    mine.write_text("a user's notes\n")
    with pytest.raises(PainctlError, match="was not written by painctl"):
        run(NOTE, mine, NoteParams("x"), force=True)
    loads.clear()
    with pytest.raises(PainctlError, match="must end in .txt"):
        run(NOTE, tmp_path / "note.md", NoteParams())
    assert loads == [] and mine.read_text() == "a user's notes\n"


@dataclass(frozen=True)
class StepsParams(Parameters):
    steps: int = 3
    stop_after: int = 99


def _steps(ctx) -> str:
    done = sorted(int(p.name) for p in ctx.dir.iterdir())  # what an earlier, interrupted run left
    if ctx.params.stop_after == 0:
        raise RuntimeError("killed before the first step")
    for step in range(len(done), ctx.params.steps):
        if step >= len(done) + ctx.params.stop_after:
            raise RuntimeError("killed")
        (ctx.dir / str(step)).write_text(f"step {step}\n")
    ctx.result = done
    return ""


#: A stage whose OUT is a run directory it fills step by step and resumes.
STEPS = Stage("steps", StepsParams, _steps, output=RunDirectory(what="steps run"))


def test_a_run_directory_is_filled_in_place_resumed_and_removed_when_nothing_was_done(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="killed"):
        run(STEPS, out, StepsParams(stop_after=2))
    assert sorted(p.name for p in out.iterdir()) == ["0", "1"]
    assert run(STEPS, out, StepsParams()) == [0, 1]  # resumed after step 2 of 3
    assert sorted(p.name for p in out.iterdir()) == ["0", "1", "2"]
    with pytest.raises(RuntimeError, match="before the first step"):
        run(STEPS, tmp_path / "new", StepsParams(stop_after=0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no empty OUT, no lock left behind
    with pytest.raises(PainctlError, match="lies inside the artefact"):
        noise = run(NOISE, tmp_path / "noise", NoiseParams(n=1))
        run(STEPS, noise / "run", StepsParams())


def test_sample_mesh_estimates_from_the_recorded_vertex_count_without_building_the_model(tmp_path, monkeypatch):
    """The estimate needs anny's vertex count; it is read from the record beside anny's cache, so a
    refused sample-mesh builds no face model."""
    from painctl import facemodels
    from painctl.stages.sample_mesh import sample_mesh

    count = facemodels.vertex_count("anny")  # writes the record if this machine has none yet
    record = facemodels._anny_record()
    assert json.loads(record.read_text()) == {"vertex_count": count} and count > 1000
    monkeypatch.setattr(facemodels, "_cache", {})  # as in a fresh process: no model built yet
    with pytest.raises(PainctlError, match="sample-mesh of 10000000000 identities needs about .* on disk"):
        sample_mesh(tmp_path / "heads", n=10_000_000_000)
    assert facemodels._cache == {} and not (tmp_path / "heads").exists()
