"""The artefact contract: manifests, validation before use, atomic writes, and merging shards."""

from __future__ import annotations

import json
import os
import stat

import h5py
import numpy as np
import pytest

from painctl.artefact import (
    IDENTITY,
    SCHEMA_VERSION,
    ArtefactWriter,
    content_digest,
    open_artefact,
    write_dataset,
)
from painctl.errors import ArtefactError, PainctlError
from painctl.artefact.shard import parse_shard


def make(out, rows=4, params=None, force=False):
    writer = ArtefactWriter(out, "toy", params or {"rows": rows}, force=force)
    if writer.cached:
        return writer
    with writer:
        write_dataset(writer.h5, "x", np.arange(rows * 2, dtype=np.float32).reshape(rows, 2))
        write_dataset(writer.h5, "name", np.array([f"r{i}" for i in range(rows)]))
        write_dataset(writer.h5, "shared", np.eye(3), rows=False)
    return writer


def test_manifest_records_everything(tmp_path):
    make(tmp_path / "a")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["schema_version"] == SCHEMA_VERSION and manifest["stage"] == "toy"
    assert manifest["params"] == {"rows": 4} and manifest["rows"] == 4 and manifest["inputs"] == []
    assert manifest["digest"] == content_digest(tmp_path / "a") and manifest["created"] and manifest["painctl_version"]
    child = ArtefactWriter(tmp_path / "b", "toy2", {}, inputs=[open_artefact(tmp_path / "a")])
    with child:
        write_dataset(child.h5, "y", np.zeros(2))
    inputs = json.loads((tmp_path / "b" / "manifest.json").read_text())["inputs"]
    # Absolute, and relative to the artefact (never to the working directory).
    assert inputs == [{"path": str(tmp_path / "a"), "relative": "a", "stage": "toy", "digest": manifest["digest"]}]


def test_reading_validates_before_use(tmp_path):
    make(tmp_path / "a")
    art = open_artefact(tmp_path / "a", stage="toy", require={"x": "N,2:f", "name": "N:S"})
    assert art.read("name").tolist() == ["r0", "r1", "r2", "r3"]
    with pytest.raises(ArtefactError, match="expected 'sample-mesh'"):
        open_artefact(tmp_path / "a", stage="sample-mesh")
    with pytest.raises(ArtefactError, match="missing dataset /vertices"):
        open_artefact(tmp_path / "a", require=IDENTITY)
    with pytest.raises(ArtefactError, match="shape"):
        open_artefact(tmp_path / "a", require={"x": "N,3:f"})
    with pytest.raises(ArtefactError, match="dtype"):
        open_artefact(tmp_path / "a", require={"x": "N,2:i"})
    with pytest.raises(ArtefactError, match="N="):
        open_artefact(tmp_path / "a", require={"x": "N,2:f", "shared": "N,3:f"})


def test_unknown_schema_and_missing_manifest(tmp_path):
    make(tmp_path / "a")
    manifest = tmp_path / "a" / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "schema_version": 99}))
    with pytest.raises(ArtefactError, match="schema version 99"):
        open_artefact(tmp_path / "a")
    manifest.unlink()
    with pytest.raises(ArtefactError, match="manifest.json is missing"):
        open_artefact(tmp_path / "a")


def test_truncated_data_is_an_artefact_error(tmp_path):
    make(tmp_path / "a", rows=2000)
    data = tmp_path / "a" / "data.h5"
    data.write_bytes(data.read_bytes()[:4000])
    with pytest.raises(ArtefactError, match="truncated"):
        open_artefact(tmp_path / "a")


def test_failed_write_leaves_nothing(tmp_path):
    writer = ArtefactWriter(tmp_path / "a", "toy", {})
    with pytest.raises(RuntimeError):
        with writer:
            write_dataset(writer.h5, "x", np.zeros(3))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_damaged_output_is_not_a_cache_hit(tmp_path):
    make(tmp_path / "a")
    with h5py.File(tmp_path / "a" / "data.h5", "r+") as f:
        f["x"][0, 0] = 42.0
    with pytest.raises(PainctlError, match="does not match its manifest"):
        make(tmp_path / "a")
    assert not make(tmp_path / "a", force=True).cached
    assert make(tmp_path / "a").cached


def test_merge_of_sample_mesh_shards_equals_one_run(tmp_path):
    from painctl.artefact.merge import merge_shards
    from painctl.stages.sample_mesh import sample_mesh

    common = dict(balance="age,gender,ethnicity", seed=9)
    whole = open_artefact(sample_mesh(tmp_path / "whole", 7, **common))
    parts = [sample_mesh(tmp_path / f"part{k}", 7, shard=parse_shard(f"{k}/3"), **common) for k in (1, 2, 3)]
    assert [open_artefact(p).rows() for p in parts] == [2, 2, 3]
    merged = open_artefact(merge_shards(tmp_path / "merged", parts), require=IDENTITY)
    assert merged.rows() == 7 and merged.stage == "sample-mesh"
    with merged.h5() as m, whole.h5() as w:
        assert set(m) == set(w)
        for name in w:
            assert m[name][()].tobytes() == w[name][()].tobytes(), name
            assert m[name].is_virtual == bool(w[name].attrs.get("painctl_rows")), name
        assert set(m.attrs) == set(w.attrs)
        for key in w.attrs:
            np.testing.assert_array_equal(m.attrs[key], w.attrs[key])
    # Merging is cached like any stage, and shards from another job are refused.
    assert merge_shards(tmp_path / "merged", parts) == tmp_path / "merged"
    stranger = sample_mesh(tmp_path / "stranger", 7, shard=parse_shard("3/3"), seed=10)
    with pytest.raises(ArtefactError, match="other parameters"):
        merge_shards(tmp_path / "bad", parts[:2] + [stranger])


def test_merge_via_cli(painctl, tmp_path):
    for k in (1, 2):
        assert painctl("sample-mesh", "-n", "4", "--shard", f"{k}/2", tmp_path / f"p{k}").code == 0
    result = painctl("merge", tmp_path / "all", tmp_path / "p1", tmp_path / "p2")
    assert result.code == 0, result.stderr
    info = json.loads(painctl("inspect", "--json", tmp_path / "all").stdout)
    assert info["rows"] == 4 and info["datasets"]["vertices"]["virtual"] and not info["datasets"]["faces"]["virtual"]
    assert info["params"]["merged_from"] == ["1/2", "2/2"]
    bad = painctl("merge", tmp_path / "x", tmp_path / "p1", tmp_path / "nope")
    assert bad.code == 1 and "no such artefact" in bad.stderr


def test_more_shards_than_rows_gives_empty_shards_that_still_merge(tmp_path):
    from painctl.artefact.merge import merge_shards
    from painctl.stages.sample_mesh import sample_mesh

    whole = open_artefact(sample_mesh(tmp_path / "whole", 2, seed=3))
    parts = [sample_mesh(tmp_path / f"p{k}", 2, seed=3, shard=parse_shard(f"{k}/4")) for k in range(1, 5)]
    assert [open_artefact(p).rows() for p in parts] == [0, 1, 0, 1]
    merged = open_artefact(merge_shards(tmp_path / "merged", parts))
    for name in ("vertices", "identity", "phenotype", "gender"):
        np.testing.assert_array_equal(merged.read(name), whole.read(name))


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_finished_outputs_get_the_umask_mode_not_a_private_temporarys(tmp_path, umask):
    from painctl.artefact.store import DirectoryOutput

    old = os.umask(umask)
    try:
        make(tmp_path / "a")
        with DirectoryOutput(tmp_path / "report", force=False, what="report") as d:
            (d / "x.txt").write_text("x")
    finally:
        os.umask(old)
    for out in (tmp_path / "a", tmp_path / "report"):
        assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask


def test_rows_hashed_as_written_give_the_digests_of_the_file(tmp_path):
    from painctl.artefact.store import RowDigest, dataset_digests, streamed_digests

    rng = np.random.default_rng(0)
    writer = ArtefactWriter(tmp_path / "a", "toy", {})
    with writer:
        h5 = writer.h5
        # As heatmap writes its maps: chunked per row, lzf, some rows (neutral faces) never written.
        maps = h5.create_dataset("maps", shape=(6, 5, 4), dtype=np.float16, chunks=(1, 5, 4), compression="lzf")
        maps.attrs["units"] = "metres"
        late = h5.create_dataset("late", shape=(3, 2), dtype=np.float32)
        shuffled = h5.create_dataset("shuffled", shape=(3, 2), dtype=np.int32)
        rows = RowDigest(maps)
        late_rows, shuffled_rows = RowDigest(late), RowDigest(shuffled)
        for i in (1, 2, 4):
            rows.write(i, rng.normal(size=(5, 4)).astype(np.float16))
        late_rows.write(0, np.ones(2, np.float32))
        late.attrs["units"] = "added after the first row was hashed"
        shuffled_rows.write(1, np.array([1, 2], np.int32))
        shuffled_rows.write(0, np.array([3, 4], np.int32))
        with pytest.raises(ValueError, match="float16"):
            rows.write(0, np.zeros((5, 4), np.float32))  # HDF5 would convert it: the bytes hashed would not be the file's
        assert rows.result() is not None
        assert late_rows.result() is None and shuffled_rows.result() is None  # these are read back instead
    recorded = json.loads((tmp_path / "a" / "manifest.json").read_text())["checksums"]["datasets"]
    assert recorded == dataset_digests(tmp_path / "a" / "data.h5")
    assert set(recorded) == {"/", "maps", "late", "shuffled"}
    # A wrong streamed digest would have been recorded as is: the one that was used equals the file's.
    with h5py.File(tmp_path / "b.h5", "w") as h5:
        ds = h5.create_dataset("maps", shape=(3, 2), dtype=np.float32)
        rows = RowDigest(ds)
        rows.write(1, np.array([0.5, -1.0], np.float32))
        streamed = streamed_digests(h5)
    assert streamed == {"maps": dataset_digests(tmp_path / "b.h5")["maps"]}
