"""Pinhole cameras as plain data: yaw/pitch/roll around a look-at point, and the matrices they make.

Coordinate frame of every painctl mesh: metres, +Y up, the face looks toward +Z. A camera with
yaw = pitch = roll = 0 sits on the +Z axis looking at the face. Positive yaw moves the camera toward
+X (the face's own left side, so the face appears turned toward the image's left); positive pitch
moves it up (looking down on the face); roll turns the image clockwise around the view axis.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


def _vec3(value: Any) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64).reshape(-1)
    if array.shape != (3,) or not np.all(np.isfinite(array)):
        raise ValueError(f"expected 3 finite numbers, got {value!r}")
    return array


@dataclass
class Camera:
    """A perspective camera orbiting ``target``.

    yaw, pitch, roll and fov (vertical field of view) are in degrees; distance (from the camera
    centre to ``target``) and target (3,) are in metres.
    """

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    distance: float = 1.0
    fov: float = 20.0
    target: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self) -> None:
        self.target = _vec3(self.target)
        if not (0.0 < float(self.fov) < 180.0):
            raise ValueError(f"field of view must be between 0 and 180 degrees, got {self.fov}")
        if not float(self.distance) > 0.0:
            raise ValueError(f"camera distance must be positive, got {self.distance}")

    # ------------------------------------------------------------------------------------ data
    def to_dict(self) -> dict[str, Any]:
        """Return the camera as JSON-ready plain data."""
        data = asdict(self)
        data["target"] = [float(x) for x in self.target]
        for key in ("yaw", "pitch", "roll", "distance", "fov"):
            data[key] = float(data[key])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Camera":
        """Build a camera from :meth:`to_dict` output (unknown keys are an error)."""
        known = {"yaw", "pitch", "roll", "distance", "fov", "target"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown camera fields: {', '.join(sorted(unknown))}")
        return cls(**data)

    # -------------------------------------------------------------------------------- geometry
    def position(self) -> np.ndarray:
        """Return the camera centre (3,) in world metres."""
        yaw, pitch = math.radians(self.yaw), math.radians(self.pitch)
        offset = np.array([math.sin(yaw) * math.cos(pitch), math.sin(pitch), math.cos(yaw) * math.cos(pitch)])
        return self.target + float(self.distance) * offset

    def rotation(self) -> np.ndarray:
        """Return the (3,3) world-to-camera rotation (OpenGL convention: x right, y up, looking along -z)."""
        yaw, pitch, roll = (math.radians(a) for a in (self.yaw, self.pitch, self.roll))
        # Orbit: rotate the world by -yaw about Y, then by +pitch about X, then roll about the view axis.
        cy, sy, cp, sp, cr, sr = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch), math.cos(roll), math.sin(roll)
        ry = np.array([[cy, 0.0, -sy], [0.0, 1.0, 0.0], [sy, 0.0, cy]])
        rx = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
        rz = np.array([[cr, sr, 0.0], [-sr, cr, 0.0], [0.0, 0.0, 1.0]])
        return rz @ rx @ ry

    def view_matrix(self) -> np.ndarray:
        """Return the (4,4) world-to-camera matrix (column vectors: p_cam = V @ p_world)."""
        rot = self.rotation()
        view = np.eye(4)
        view[:3, :3] = rot
        view[:3, 3] = -rot @ self.position()
        return view

    def projection_matrix(self, aspect: float = 1.0, near: float | None = None, far: float | None = None) -> np.ndarray:
        """Return the (4,4) OpenGL perspective projection for ``aspect`` = width / height.

        ``near``/``far`` default to a range around the target that comfortably holds a head.
        """
        near = near if near is not None else max(1e-3, float(self.distance) * 0.05)
        far = far if far is not None else float(self.distance) * 4.0 + 1.0
        f = 1.0 / math.tan(math.radians(self.fov) / 2.0)
        proj = np.zeros((4, 4))
        proj[0, 0] = f / aspect
        proj[1, 1] = f
        proj[2, 2] = (far + near) / (near - far)
        proj[2, 3] = 2.0 * far * near / (near - far)
        proj[3, 2] = -1.0
        return proj

    def focal_pixels(self, height: int) -> float:
        """Return the focal length in pixels for an image ``height`` pixels tall."""
        return (height / 2.0) / math.tan(math.radians(self.fov) / 2.0)

    def project(self, points: np.ndarray, width: int, height: int) -> np.ndarray:
        """Return world ``points`` (K,3) metres as (K,2) pixel coordinates (x right, y down) in a
        ``width`` x ``height`` image, pixel centres at whole numbers (pixel 0 spans -0.5..0.5)."""
        cam = (np.asarray(points, np.float64).reshape(-1, 3) - self.position()) @ self.rotation().T
        depth = np.maximum(-cam[:, 2], 1e-9)
        focal = self.focal_pixels(height)
        x = cam[:, 0] / depth * focal + width / 2.0 - 0.5
        y = height / 2.0 - cam[:, 1] / depth * focal - 0.5
        return np.stack([x, y], axis=1)

    def rays(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ray origins (H*W,3) and unit directions (H*W,3) through every pixel centre, row-major from the top."""
        rot = self.rotation()
        focal = self.focal_pixels(height)
        xs = (np.arange(width) + 0.5 - width / 2.0) / focal
        ys = (height / 2.0 - (np.arange(height) + 0.5)) / focal
        gx, gy = np.meshgrid(xs, ys)
        cam_dirs = np.stack([gx, gy, -np.ones_like(gx)], axis=-1).reshape(-1, 3)
        dirs = cam_dirs @ rot  # camera -> world is rot.T; row vectors multiply by rot
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        origins = np.broadcast_to(self.position(), dirs.shape).copy()
        return origins, dirs


def frame_camera(
    vertices: np.ndarray,
    yaw: float = 0.0,
    pitch: float = 0.0,
    roll: float = 0.0,
    size: int | tuple[int, int] = 224,
    fov: float = 20.0,
    margin: float = 1.1,
    target: np.ndarray | None = None,
) -> Camera:
    """Return a camera at (yaw, pitch, roll) whose distance fits ``vertices`` (V,3) into the image.

    The look-at point is the bounding-box centre (or ``target``); the distance is the smallest that
    keeps every vertex inside the view with ``margin`` (1.1 = 10% border) for an image of ``size``
    (int or (width, height)) pixels. Frame once on the neutral face and reuse the camera for its
    expressions so pairs stay pixel-aligned.
    """
    verts = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    if len(verts) == 0:
        raise ValueError("cannot frame a camera on an empty mesh")
    width, height = (size, size) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
    centre = _vec3(target) if target is not None else (verts.min(0) + verts.max(0)) / 2.0
    probe = Camera(yaw=yaw, pitch=pitch, roll=roll, distance=1.0, fov=fov, target=centre)
    local = (verts - centre) @ probe.rotation().T  # camera axes; the camera sits on +z at the distance
    tan_y = math.tan(math.radians(fov) / 2.0) / margin
    tan_x = tan_y * width / height
    need = np.maximum(np.abs(local[:, 0]) / tan_x, np.abs(local[:, 1]) / tan_y) + local[:, 2]
    distance = float(max(need.max(), 1e-3))
    # A camera closer than the mesh's own extent would sit inside it.
    distance = max(distance, float(np.abs(local[:, 2]).max()) * 1.05)
    return Camera(yaw=yaw, pitch=pitch, roll=roll, distance=distance, fov=fov, target=centre)
