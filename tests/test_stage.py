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
from painctl.artefact.stage import Input, Parameters, Stage, run
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
    with pytest.raises(PainctlError, match="noise of 2 items needs about .* on disk"):
        run(big, tmp_path / "a", NoiseParams(n=2))
    assert not (tmp_path / "a").exists()
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
