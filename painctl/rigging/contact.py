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

Each eye is checked and solved on its own region (:class:`EyeContact`), so an eye whose predicted
lids (:mod:`painctl.rigging.corrective`) pass keeps them when the other eye needs the solve; the
solve of a refused prediction starts from as far towards it as stays collision-free. Whether lids
cross is asked first of the edge-triangle pairs that crossed on earlier faces (exact orientation
tests in numpy, a tenth of ipctk's full check) and of ipctk only when none of them crosses, so
the answer is always ipctk's.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spl
from scipy.spatial import cKDTree

from painctl.errors import PainctlError
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
#: Newton iterations from a predicted start (see :meth:`EyeContact.solve`). The solve is not
#: converged after 12 cold iterations (24 lower its energy a further 12%); on 20 eyes of the rig
#: benchmark's first 100 identities whose predictions crossed, 10 from the prediction's start
#: ended at an energy no higher than 12 cold ones on every eye (median 5% lower), 8 up to 8% higher.
WARM_ITERATIONS = 10
#: Skin triangles within this distance of a vertex the blink moves can be touched by the lid.
REACH_M = 0.01
#: ipctk broad phase for every collision query (a BVH was the fastest on the lid region).
BROAD_PHASE = "LBVH"
#: Most edge-triangle pairs an eye remembers from crossings seen before (see :meth:`EyeContact.crosses`).
KNOWN_PAIRS = 20000
#: Margin (mm^3) by which every orientation of a remembered pair must be clear of zero for it to
#: count as crossing: far above float64 rounding at head coordinates (~1e-12), so such a pair is
#: a crossing for ipctk's exact predicates too.
CROSSING_MARGIN_MM3 = 1e-8


#: Remembered pairs tested first (those that crossed most recently); the rest only if none does.
FIRST_PAIRS = 32


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Return (3,P) the cross products of (3,P) ``u`` and ``v``."""
    return np.stack([u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]])


def edges_cross_triangles(x: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Return (P,) bool: which edges clearly pass through which triangles.

    ``x`` (U,3) positions in mm; ``pairs`` (P,5) vertex indices, an edge (2) then a triangle (3).
    True only where both edge ends lie on opposite sides of the triangle's plane and the edge's
    line passes inside the triangle, every orientation (six times a signed tetrahedron volume)
    clear of zero by more than :data:`CROSSING_MARGIN_MM3`.
    """
    e0, e1, t0, t1, t2 = np.asarray(x).T[:, pairs.T].swapaxes(0, 1)  # each (3,P)
    eps = CROSSING_MARGIN_MM3
    normal = _cross(t1 - t0, t2 - t0)
    below, above = (normal * (e0 - t0)).sum(0), (normal * (e1 - t0)).sum(0)
    out = (below * above < 0) & (np.abs(below) > eps) & (np.abs(above) > eps)
    if out.any():  # most pairs stay on one side: the line tests only for those that straddle
        at = np.flatnonzero(out)
        d = e1[:, at] - e0[:, at]
        r = [t[:, at] - e0[:, at] for t in (t0, t1, t2)]
        sides = np.stack([(_cross(d, r[i]) * r[(i + 1) % 3]).sum(0) for i in range(3)])
        out[at] = (sides > eps).all(0) | (sides < -eps).all(0)
    return out


@dataclass(frozen=True)
class EyeContact:
    """The collision region around one eye, and its solve's fixed matrices.

    ``vertices`` (U,) indexes the mesh: the ``n_moving`` vertices this eye's blink moves first,
    then the skin vertices they may touch (static here, the other eye's moving ones included).
    ``rows`` (n_moving,) places the moving ones among :attr:`LidContact.vertices`' moving ones.
    ``edges`` (E,2) and ``faces`` (F,3) index ``vertices``; ``stiffness`` (3U,3U) is the elastic
    energy's matrix on them.
    """

    vertices: np.ndarray
    n_moving: int
    rows: np.ndarray
    edges: np.ndarray
    faces: np.ndarray
    rest: np.ndarray
    stiffness: sp.csc_matrix
    #: (P,5) edge-triangle pairs that crossed on faces seen before (an edge, then a triangle).
    known: list = field(default_factory=lambda: [np.zeros((0, 5), np.int64)], compare=False, repr=False)

    @cached_property
    def collision_mesh(self):
        """The eye's region as an ipctk collision mesh in which only moving vertices collide."""
        import ipctk

        mesh = ipctk.CollisionMesh(self.rest, self.edges, self.faces)
        mesh.can_collide = ipctk.make_static_obstacle_filter(self.n_moving)
        return mesh

    @classmethod
    def around(cls, moving: np.ndarray, skin: np.ndarray, mesh_faces: np.ndarray, reference: np.ndarray) -> EyeContact:
        """Build the region of the (V,) bool ``moving`` vertices: the ``skin`` triangles (F,3 of the
        mesh) within :data:`REACH_M` of them on the (V,3) ``reference`` head (metres). ``rows`` is
        left empty for :class:`LidContact` to fill."""
        import ipctk

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
        return cls(order, int(moving[order].sum()), np.zeros(0, np.int64), edges, faces, np.asfortranarray(reference[order] * 1e3),
                   sp.kron(laplacian, sp.eye(3)).tocsc())

    def close(self, start: np.ndarray, target: np.ndarray, candidates: list[np.ndarray]) -> tuple[str, np.ndarray | None]:
        """Close one eye: ``start`` and ``target`` (U,3) mm are its vertices before and after the
        blink, ``candidates`` predicted (n_moving,3) mm corrections. Return what was done ("open",
        "predicted" or "solved") and the (U,3) mm result, None where ``target`` stands as it is."""
        target = np.asfortranarray(target)
        if not self.crosses(target):
            return "open", None  # the lids do not pass through each other (a partly closed eye)
        for correction in candidates:
            guess = target.copy()
            guess[: self.n_moving] += correction
            if not self.crosses(guess):
                return "predicted", guess
        guess = None
        if candidates:
            guess = target.copy()
            guess[: self.n_moving] += candidates[0]
        return "solved", self.solve(np.asfortranarray(start), target, guess)

    def crosses(self, x: np.ndarray) -> bool:
        """Return whether any skin edge of the region passes through a skin triangle at (U,3) ``x``
        (mm), a moving vertex among the five: ipctk's ``has_intersections``, asked only when none
        of the pairs that crossed on earlier faces crosses here (those, tested in numpy, settle
        most closed blinks and most refused predictions at a tenth of the cost; the answer is
        ipctk's either way)."""
        import ipctk

        known = self.known[0]
        if edges_cross_triangles(x, known[:FIRST_PAIRS]).any():
            return True
        hit = edges_cross_triangles(x, known[FIRST_PAIRS:])
        if hit.any():
            later = known[FIRST_PAIRS:]
            self.known[0] = np.r_[later[hit], known[:FIRST_PAIRS], later[~hit]]
            return True
        if not ipctk.has_intersections(self.collision_mesh, np.asfortranarray(x), getattr(ipctk, BROAD_PHASE)()):
            return False
        if len(self.known[0]) < KNOWN_PAIRS:
            self.known[0] = np.r_[self.crossing_pairs(x), known]
        return True

    def crossing_pairs(self, x: np.ndarray) -> np.ndarray:
        """Return (P,5) the region's edge-triangle pairs (a moving vertex among the five, no vertex
        shared) that :func:`edges_cross_triangles` finds crossing at (U,3) ``x`` (mm)."""
        import ipctk

        broad_phase = getattr(ipctk, BROAD_PHASE)()
        broad_phase.build(np.asfortranarray(x), self.edges, self.faces, 1e-6 * float(np.linalg.norm(np.ptp(x, axis=0))))
        found = np.array([(c.edge_id, c.face_id) for c in broad_phase.detect_edge_face_candidates()], np.int64).reshape(-1, 2)
        pairs = np.c_[self.edges[found[:, 0]], self.faces[found[:, 1]]].astype(np.int64)
        shared = (pairs[:, :2, None] == pairs[:, None, 2:]).any((1, 2))
        pairs = pairs[(pairs < self.n_moving).any(1) & ~shared]
        return pairs[edges_cross_triangles(x, pairs)]

    def solve(self, start: np.ndarray, target: np.ndarray, guess: np.ndarray | None = None) -> np.ndarray | None:
        """Return (U,3) mm: the moving vertices brought from ``start`` towards ``target`` by
        collision-free Newton steps on elastic energy plus barrier (None: ``start`` already has
        skin touching skin, so the blink stands).

        A ``guess`` (U,3) mm (a prediction that crosses) moves the start as far towards it as
        continuous collision detection allows, and the solve takes :data:`WARM_ITERATIONS`
        iterations from there instead of :data:`ITERATIONS` from ``start``."""
        import ipctk

        mesh = self.collision_mesh
        broad_phase, ccd = getattr(ipctk, BROAD_PHASE)(), ipctk.AdditiveCCD()
        barrier = ipctk.BarrierPotential(CONTACT_DISTANCE_MM, BARRIER_STIFFNESS)
        collisions = ipctk.NormalCollisions()
        k = self.stiffness
        free = 3 * self.n_moving
        collisions.build(mesh, start, CONTACT_DISTANCE_MM, 0.0, broad_phase)
        nearest = collisions.compute_minimum_distance(mesh, start) if len(collisions) else np.inf
        if nearest <= 0.0:
            warnings.warn("painctl rig: the open face already has skin touching skin around the eyes; "
                          "its lids were closed without the contact solve", stacklevel=3)
            return None
        d_min = min(MIN_DISTANCE_MM, 0.5 * nearest)

        def energy(x: np.ndarray) -> float:
            d = (x - target).ravel()
            collisions.build(mesh, x, CONTACT_DISTANCE_MM, d_min, broad_phase)
            return 0.5 * d @ (k @ d) + barrier(collisions, mesh, x)

        x, iterations = start, ITERATIONS
        if guess is not None:
            alpha = min(1.0, ipctk.compute_collision_free_stepsize(mesh, x, np.asfortranarray(guess), d_min, broad_phase, ccd))
            x, iterations = np.asfortranarray(x + alpha * (guess - x)), WARM_ITERATIONS
        e = energy(x)
        for _ in range(iterations):
            gradient = k @ (x - target).ravel() + barrier.gradient(collisions, mesh, x)
            hessian = k + barrier.hessian(collisions, mesh, x, project_hessian_to_psd=ipctk.PSDProjectionMethod.CLAMP)
            step = np.zeros_like(gradient)
            # The Hessian is symmetric: a symmetric ordering factorises it faster than the default.
            step[:free] = -spl.splu(hessian[:free, :free].tocsc(), permc_spec="MMD_AT_PLUS_A",
                                    options={"SymmetricMode": True}).solve(gradient[:free])
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
        return x


@dataclass(frozen=True)
class LidContact:
    """The collision region around both eyes of one mesh topology, one :class:`EyeContact` per eye.

    ``vertices`` (U,) indexes the mesh: the ``n_moving`` vertices the blink moves come first, then
    the static skin vertices they may touch. ``faces`` (F,3) index ``vertices``. Each eye is
    checked, and where needed solved, on its own region (cheaper than both at once, and an eye
    whose prediction passes keeps it when the other needs the solve): a skin pair that the other
    eye's blink moves too is checked again in that eye's turn, with this eye's result in place, so
    the face out is checked as a whole.
    """

    vertices: np.ndarray
    n_moving: int
    faces: np.ndarray
    eyes: tuple[EyeContact, ...]
    #: Per face: "open" (no eye's lids cross), "predicted" (no eye needed the solve) or "solved".
    outcomes: Counter = field(default_factory=Counter, compare=False)
    #: The same per eye.
    eye_outcomes: Counter = field(default_factory=Counter, compare=False)

    @classmethod
    def for_model(cls, model: FaceModel, blink_offsets: np.ndarray) -> LidContact:
        """Build the region for ``model`` from its (2,V,3) left and right blink offsets (metres)."""
        mesh_faces = np.asarray(model.faces, dtype=np.int64)
        reference = model.neutral(np.full((1, len(model.phenotype_names)), 0.5))[0].astype(np.float64)
        regions = model.region_vertices()
        # Skin: everything but the eyeballs and the socket lining behind the lid margin (which the
        # blink drags along and which already crosses itself on anny's neutral heads).
        skin = np.ones(len(reference), bool)
        for name in ("left_eye", "right_eye", "left_eye_socket", "right_eye_socket"):
            skin[regions[name]] = False
        skin[regions["skin"]] = True
        reach = np.linalg.norm(blink_offsets, axis=2)
        moving = (reach > 1e-6).any(0) & skin
        whole = EyeContact.around(moving, skin, mesh_faces, reference)
        # A vertex both blinks move (a few near the nose bridge) belongs to the side moving it most.
        side = np.argmax(reach, axis=0)
        eyes = [EyeContact.around(moving & (side == s), skin, mesh_faces, reference) for s in (0, 1)]
        row = np.full(len(reference), -1)
        row[whole.vertices[: whole.n_moving]] = np.arange(whole.n_moving)
        eyes = [replace(eye, rows=row[eye.vertices[: eye.n_moving]]) for eye in eyes]
        covered = np.sort(np.concatenate([eye.rows for eye in eyes]))
        if not np.array_equal(covered, np.arange(whole.n_moving)):
            raise PainctlError(f"{model.name}: the two eyes' lid regions do not split the blink's moving vertices")
        return cls(whole.vertices, whole.n_moving, whole.faces, tuple(eyes))

    def close(self, rest: np.ndarray, blinked: np.ndarray, candidates: Iterable[np.ndarray] = ()) -> np.ndarray:
        """Return (V,3) float64 vertices: ``blinked`` (V,3, metres) with its lids resting on each other.

        ``rest`` (V,3) is the same face before the blink (the rest of the rig applied); it must be free
        of skin-through-skin in the region, as the rig's lid budgets keep it. Vertices outside the
        region are ``blinked``'s. ``candidates`` are predicted corrections of the moving vertices
        ((n_moving,3) mm each, from :mod:`painctl.rigging.corrective`); for each eye the first whose
        lids cross no skin is used instead of solving. ``outcomes`` and ``eye_outcomes`` count what
        each call did.
        """
        import ipctk

        ipctk.set_num_threads(1)  # the same bytes out whatever the machine
        ipctk.set_logger_level(ipctk.LoggerLevel.error)
        candidates = list(candidates)
        # The face as it stands: eyes not yet closed are open (their rest), so each eye's start is
        # a face without skin through skin.
        state = np.array(blinked, dtype=np.float64)
        moving = self.vertices[: self.n_moving]
        state[moving] = rest[moving]
        done = []
        for eye in self.eyes:
            mine = eye.vertices[: eye.n_moving]
            start = state[eye.vertices] * 1e3
            target = start.copy()
            target[: eye.n_moving] = blinked[mine] * 1e3
            how, x = eye.close(start, target, [c[eye.rows] for c in candidates])
            state[mine] = blinked[mine] if x is None else x[: eye.n_moving] * 1e-3
            self.eye_outcomes[how] += 1
            done.append(how)
        self.outcomes[next(how for how in ("solved", "predicted", "open") if how in done)] += 1
        out = np.array(blinked, dtype=np.float64)
        out[moving] = state[moving]
        return out
