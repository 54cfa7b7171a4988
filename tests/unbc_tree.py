"""Build a tiny UNBC-McMaster tree in the layout the archive ships in, for tests.

Faces are drawn with PIL from 66 AAM-style landmarks, and the six PSPI action units change them
visibly (lowered brows AU4, raised red cheeks AU6, narrowed eyes AU7, nose wrinkles AU9, raised upper
lip AU10, closed eyes AU43), so even a tiny model can learn something. Label files use the real
formats: scientific notation, empty FACS files for frames with no AU, extra AUs outside PSPI,
AU43 coded as 1, landmark files whose suffix varies between subjects.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

#: The first subjects of the real archive (the folder names users will see).
SUBJECTS = ("042-ll042", "043-jh043", "047-jl047", "048-aa048", "049-bm049", "052-dr052", "059-fn059", "064-ak064")

#: AU codings per frame of a sequence ({FACS AU number: intensity}); the first frames are neutral.
SEQUENCE_AUS = (
    {},
    {},
    {4: 1, 6: 2, 25: 2},
    {4: 3, 6: 4, 7: 3, 9: 2, 10: 2, 43: 1, 12: 3},
    {6: 2, 7: 1},
    {4: 2, 7: 3, 10: 1},
    {},
    {26: 1},
)


def unbc_pspi(aus: dict[int, float]) -> float:
    """PSPI of a FACS coding: AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43 (present = 1)."""
    g = aus.get
    return g(4, 0) + max(g(6, 0), g(7, 0)) + max(g(9, 0), g(10, 0)) + (1 if 43 in aus else 0)


def face_landmarks(aus: dict[int, float]) -> np.ndarray:
    """Return (66, 2) landmarks of a canonical face (units of half the face width, y down)."""
    g = aus.get
    pts = []
    for i in range(17):  # jaw, ear to ear through the chin
        t = math.pi - i * math.pi / 16
        pts.append((0.95 * math.cos(t), 0.05 + 1.1 * math.sin(t)))
    brow_y = -0.5 + 0.05 * g(4, 0)
    for side in (-1, 1):  # brows 17-26, inner ends pulled together by AU4
        xs = np.linspace(0.75, 0.15 - 0.02 * g(4, 0), 5) if side < 0 else np.linspace(0.15 - 0.02 * g(4, 0), 0.75, 5)
        for x in xs:
            pts.append((side * x, brow_y - 0.08 * math.sin(math.pi * (x - 0.15) / 0.6)))
    for y in np.linspace(-0.3, 0.15, 4):  # nose bridge 27-30
        pts.append((0.0, y))
    for x in np.linspace(-0.2, 0.2, 5):  # nostrils 31-35
        pts.append((x, 0.25 - 0.03 * g(9, 0) + 0.04 * abs(x)))
    open_ = 0.0 if 43 in aus else 0.13 * (1 - 0.15 * max(g(6, 0), g(7, 0)))
    for cx in (-0.4, 0.4):  # eyes 36-41 and 42-47
        for ang in (180, 120, 60, 0, -60, -120):
            a = math.radians(ang)
            pts.append((cx + 0.18 * math.cos(a), -0.2 - open_ * math.sin(a)))
    lift = 0.04 * g(10, 0)
    for k in range(12):  # outer mouth 48-59
        a = math.pi - k * 2 * math.pi / 12
        y = 0.62 - (0.1 + lift) * math.sin(a) if math.sin(a) > 0 else 0.62 - 0.1 * math.sin(a)
        pts.append((0.3 * math.cos(a), y))
    for k in (1, 2, 3, 7, 8, 9):  # inner mouth 60-65 (the 66-point scheme drops two corners)
        a = math.pi - k * 2 * math.pi / 12
        pts.append((0.22 * math.cos(a), 0.62 - 0.5 * (0.1 + (lift if math.sin(a) > 0 else 0)) * math.sin(a)))
    return np.asarray(pts, dtype=np.float64)


def draw_face(aus: dict[int, float], size: tuple[int, int], skin: tuple[int, int, int], background: tuple[int, int, int],
              centre: tuple[float, float], scale: float, angle: float) -> tuple[Image.Image, np.ndarray]:
    """Draw a face showing ``aus``; return the RGB image and its (66, 2) landmarks in pixels."""
    canon = face_landmarks(aus)
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])

    def to_px(p: np.ndarray) -> np.ndarray:
        return (np.atleast_2d(p) @ rot.T) * scale + np.asarray(centre)

    pts = to_px(canon)
    img = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(img)
    head = [(0.95 * math.cos(t), 0.05 + 1.1 * math.sin(t) if math.sin(t) > 0 else 0.05 + 1.2 * math.sin(t))
            for t in np.linspace(0, 2 * math.pi, 40, endpoint=False)]
    draw.polygon([tuple(p) for p in to_px(np.asarray(head))], fill=skin)
    g = aus.get
    redness = int(min(255, 30 * max(g(6, 0), g(7, 0))))
    for cx in (-0.45, 0.45):  # cheeks redden with AU6/AU7
        cheek = to_px(np.array([[cx + 0.18 * math.cos(t), 0.2 + 0.14 * math.sin(t)] for t in np.linspace(0, 2 * math.pi, 16)]))
        draw.polygon([tuple(p) for p in cheek], fill=(min(255, skin[0] + redness), max(0, skin[1] - redness), max(0, skin[2] - redness)))
    width = max(1, int(round(scale * (0.06 + 0.02 * g(4, 0)))))
    draw.line([tuple(p) for p in pts[17:22]], fill=(40, 25, 20), width=width)
    draw.line([tuple(p) for p in pts[22:27]], fill=(40, 25, 20), width=width)
    for eye in (pts[36:42], pts[42:48]):
        if 43 in aus:
            draw.line([tuple(eye[0]), tuple(eye[3])], fill=(30, 20, 20), width=max(1, int(scale * 0.04)))
        else:
            draw.polygon([tuple(p) for p in eye], fill=(245, 245, 245), outline=(30, 20, 20))
            r = max(1.0, scale * 0.05)
            ex, ey = eye.mean(axis=0)
            draw.ellipse([ex - r, ey - r, ex + r, ey + r], fill=(40, 30, 60))
    draw.line([tuple(p) for p in pts[27:31]], fill=(120, 80, 70), width=1)
    draw.line([tuple(p) for p in pts[31:36]], fill=(120, 80, 70), width=1)
    for k in range(int(g(9, 0))):  # nose wrinkles
        y = -0.1 + 0.06 * k
        draw.line([tuple(p) for p in to_px(np.array([[-0.12, y], [0.12, y]]))], fill=(110, 60, 50), width=1)
    draw.polygon([tuple(p) for p in pts[48:60]], fill=(150, 50, 60))
    draw.polygon([tuple(p) for p in pts[60:66]], fill=(60, 20, 25))
    return img, pts


def _sci(value: float) -> str:
    return f"{value:16.7e}"


def make_unbc_tree(root: str | Path, n_subjects: int = 6, n_sequences: int = 2, n_frames: int = 6,
                   size: tuple[int, int] = (80, 64), seed: int = 0) -> Path:
    """Write a UNBC-McMaster-layout tree under ``root`` and return ``root``.

    ``n_subjects`` subjects (folder names from :data:`SUBJECTS`), each with ``n_sequences`` sequences
    of ``n_frames`` frames (images ``size`` = (width, height) pixels), with Frame_Labels/PSPI,
    Frame_Labels/FACS, AAM_landmarks and Sequence_Labels. Deterministic for a given ``seed``.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    for si in range(n_subjects):
        subject = SUBJECTS[si] if si < len(SUBJECTS) else f"{200 + si:03d}-xx{200 + si:03d}"
        code = subject.split("-")[1]
        skin = tuple(int(v) for v in rng.integers(150, 235, 3))
        background = tuple(int(v) for v in rng.integers(20, 120, 3))
        for qi in range(n_sequences):
            sequence = f"{code}t{qi + 1}a{'abcdefgh'[qi % 8]}aff"
            dirs = {name: root / name / subject / sequence for name in ("Images", "Frame_Labels/PSPI", "Frame_Labels/FACS", "AAM_landmarks")}
            for d in dirs.values():
                d.mkdir(parents=True, exist_ok=True)
            for fi in range(n_frames):
                aus = dict(SEQUENCE_AUS[(fi + qi) % len(SEQUENCE_AUS)] if fi >= 2 else {})
                stem = f"{sequence}{fi + 1:03d}"
                w, h = size
                centre = (w / 2 + rng.uniform(-0.06, 0.06) * w, h / 2 + rng.uniform(-0.04, 0.04) * h)
                img, pts = draw_face(aus, size, skin, background, centre, scale=0.3 * h, angle=math.radians(rng.uniform(-12, 12)))
                img.save(dirs["Images"] / f"{stem}.png")
                (dirs["Frame_Labels/PSPI"] / f"{stem}_facs.txt").write_text(_sci(unbc_pspi(aus)) + "\n")
                lines = [f"{_sci(au)}{_sci(1.0 if au == 43 else v)}{_sci(0)}{_sci(0)}" for au, v in sorted(aus.items())]
                (dirs["Frame_Labels/FACS"] / f"{stem}_facs.txt").write_text("".join(line + "\n" for line in lines))
                suffix = "_aam.txt" if si % 2 == 0 else ".txt"
                (dirs["AAM_landmarks"] / f"{stem}{suffix}").write_text("".join(f"{_sci(x)}{_sci(y)}\n" for x, y in pts))
            for scale in ("AFF", "OPR", "SEN", "VAS"):
                seq_dir = root / "Sequence_Labels" / scale / subject
                seq_dir.mkdir(parents=True, exist_ok=True)
                (seq_dir / f"{sequence}.txt").write_text(_sci(float(rng.integers(0, 6))) + "\n")
    return root
