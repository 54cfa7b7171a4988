"""Lid contact's own machinery: one region per eye, and the remembered-pair crossing check that
must answer exactly as ipctk's has_intersections does."""

from __future__ import annotations

import numpy as np
import pytest


def test_remembered_pair_test_never_claims_a_crossing_ipctk_would_not():
    import ipctk

    from painctl.rigging.contact import edges_cross_triangles

    rng = np.random.default_rng(0)
    x = rng.uniform(100, 110, size=(5000, 3))  # head-sized coordinates, mm
    pairs = np.arange(5000).reshape(-1, 5)
    ours = edges_cross_triangles(x, pairs)
    theirs = np.array([ipctk.is_edge_intersecting_triangle(*x[p]) for p in pairs])
    assert 50 < ours.sum() and np.all(theirs[ours])
    assert (ours != theirs).sum() <= 0.01 * len(pairs)  # misses only where a test is within the margin
    # A vertex shared between edge and triangle is never a crossing.
    shared = pairs.copy()
    shared[:, 0] = shared[:, 2]
    assert not edges_cross_triangles(x, shared).any()


@pytest.fixture(scope="module")
def rig(anny_model):
    from painctl.rigging.deform import DirectRig

    return DirectRig.for_model(anny_model, corrective=False)


def test_each_eye_has_its_own_region_and_they_split_the_moving_vertices(rig):
    contact = rig.contact
    left, right = contact.eyes
    assert np.array_equal(np.sort(np.r_[left.rows, right.rows]), np.arange(contact.n_moving))
    for s, eye in enumerate(contact.eyes):
        mine = eye.vertices[: eye.n_moving]
        assert np.array_equal(contact.vertices[eye.rows], mine)
        reach = np.linalg.norm(rig.basis[rig._blink][:, mine], axis=2)
        assert np.all(reach[s] >= reach[1 - s])
    # Each eye's region is about half of the whole; they share only the skin between the eyes
    # (which both blinks move a little) and its neighbours.
    assert len(np.intersect1d(left.vertices, right.vertices)) < 0.15 * len(left.vertices)
    assert max(len(left.vertices), len(right.vertices)) < 0.6 * len(contact.vertices)


def test_crossing_check_answers_as_ipctk_on_closing_lids(anny_model, rig):
    import ipctk

    rng = np.random.default_rng(1)
    blink = rig.basis[rig._blink].sum(0)
    eye = rig.contact.eyes[0]
    eye.known[0] = eye.known[0][:0]
    answers = []
    for age in (20.0, 50.0, 80.0):
        neutral = anny_model.neutral(anny_model.sample_phenotype(rng, age, "female", None)[None])[0].astype(np.float64)
        for weight in (0.3, 0.7, 1.0):
            for shift in (0.0, 1.0, 2.0):
                # The upper lid pulled back up by ``shift`` mm: fewer, then no crossings.
                x = (neutral + weight * blink)[eye.vertices] * 1e3
                x[: eye.n_moving, 2] += shift * (blink[eye.vertices[: eye.n_moving], 2] < 0)
                x = np.asfortranarray(x)
                truth = ipctk.has_intersections(eye.collision_mesh, x, ipctk.LBVH())
                assert eye.crosses(x) == truth
                answers.append(truth)
    assert any(answers) and not all(answers)
    assert len(eye.known[0]) > 0  # crossings seen are remembered, and the answers stay ipctk's
