"""UNBC-McMaster Shoulder Pain Expression Archive, read exactly as it is distributed.

Layout (one folder per subject, e.g. ``042-ll042``, one per sequence, e.g. ``ll042t1aaaff``)::

    Images/<subject>/<sequence>/<sequence><NNN>.png
    Frame_Labels/PSPI/<subject>/<sequence>/<sequence><NNN>_facs.txt   one number
    Frame_Labels/FACS/<subject>/<sequence>/<sequence><NNN>_facs.txt   empty, or lines "AU intensity x y"
    AAM_landmarks/<subject>/<sequence>/<sequence><NNN>*.txt           66 lines "x y"
    Sequence_Labels/{AFF,OPR,SEN,VAS}/<subject>/<sequence>.txt        optional, not used for frames

Numbers may be written in scientific notation. AU43 is coded as 1 when present. AUs that a FACS file
does not list are 0 (the frame was FACS-coded); all six AUs are NaN only when the FACS file is missing.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from painctl import console
from painctl.datasets.frames import Frame
from painctl.errors import PainctlError
from painctl.facs import AU_NAMES, PSPI_MAX

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
#: FACS AU number -> column of painctl's AU vectors.
_AU_COLUMN = {int(name[2:]): i for i, name in enumerate(AU_NAMES)}
_AU43 = AU_NAMES.index("AU43")


def is_unbc(path: Path) -> bool:
    """True when ``path`` is the root of a UNBC-McMaster tree (it holds Images/ and Frame_Labels/)."""
    return (path / "Images").is_dir() and (path / "Frame_Labels").is_dir()


def _numbers(line: str, file: Path, lineno: int) -> list[float]:
    try:
        values = [float(tok) for tok in line.split()]
    except ValueError:
        raise PainctlError(f"{file}, line {lineno}: expected numbers, got {line.strip()[:60]!r}") from None
    if not all(np.isfinite(values)):
        raise PainctlError(f"{file}, line {lineno}: numbers must be finite, got {line.strip()[:60]!r}")
    return values


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise PainctlError(f"{file}: not a text label file") from None
    except OSError as exc:
        raise PainctlError(f"{file}: cannot be read ({exc.strerror or exc})") from None


def read_pspi_file(file: Path) -> float:
    """Return the PSPI (0-16) of a ``Frame_Labels/PSPI`` file holding one number."""
    found: list[tuple[float, int]] = []
    for lineno, line in enumerate(_read_text(file).splitlines(), 1):
        if line.strip():
            found += [(v, lineno) for v in _numbers(line, file, lineno)]
    if len(found) != 1:
        raise PainctlError(f"{file}: expected one PSPI number, found {len(found)}")
    value, lineno = found[0]
    if not 0 <= value <= PSPI_MAX:
        raise PainctlError(f"{file}, line {lineno}: PSPI {value:g} is outside 0-{PSPI_MAX:g}")
    return float(value)


def read_facs_file(file: Path) -> np.ndarray:
    """Return the (6,) AU intensities (AU_NAMES order) of a ``Frame_Labels/FACS`` file.

    Each line is ``AU intensity [x y]``; AUs outside the six PSPI AUs are ignored, listed AU43 is 1,
    unlisted AUs are 0. An empty file means no AU was coded as present.
    """
    au = np.zeros(len(AU_NAMES), dtype=np.float32)
    for lineno, line in enumerate(_read_text(file).splitlines(), 1):
        if not line.strip():
            continue
        values = _numbers(line, file, lineno)
        if len(values) < 2:
            raise PainctlError(f"{file}, line {lineno}: expected 'AU intensity x y', got {line.strip()[:60]!r}")
        number, intensity = values[0], values[1]
        if number != int(number) or number < 0:
            raise PainctlError(f"{file}, line {lineno}: {number:g} is not an action unit number")
        if not 0 <= intensity <= 5:
            raise PainctlError(f"{file}, line {lineno}: AU{int(number)} intensity {intensity:g} is outside 0-5")
        column = _AU_COLUMN.get(int(number))
        if column is None:
            continue
        au[column] = 1.0 if column == _AU43 else intensity
    return au


def read_landmark_file(file: Path) -> np.ndarray:
    """Return the (K, 2) float32 pixel coordinates of an AAM landmark file (``x y`` per line)."""
    points: list[list[float]] = []
    for lineno, line in enumerate(_read_text(file).splitlines(), 1):
        if not line.strip():
            continue
        values = _numbers(line, file, lineno)
        if len(values) != 2:
            raise PainctlError(f"{file}, line {lineno}: expected 'x y', got {line.strip()[:60]!r}")
        points.append(values)
    if len(points) not in (66, 68):
        # A short file would crop the face around a few points only: refuse rather than mis-crop.
        raise PainctlError(f"{file}: expected 66 landmark lines 'x y', found {len(points)}")
    return np.asarray(points, dtype=np.float32)


def _landmark_index(folder: Path, sequence: str) -> dict[int, Path]:
    """Map frame number -> landmark file for one sequence, whatever suffix the files carry."""
    index: dict[int, Path] = {}
    if not folder.is_dir():
        return index
    pattern = re.compile(re.escape(sequence) + r"(\d+)(?!\d)")
    for file in sorted(folder.iterdir()):
        match = pattern.match(file.name)
        if match and file.is_file():
            index.setdefault(int(match.group(1)), file)
    return index


def load_unbc(root: str | Path) -> list[Frame]:
    """Read every labelled frame of a UNBC-McMaster tree at ``root`` into :class:`Frame` records.

    ``subject`` is the subject folder name (``042-ll042``), ``key`` is ``subject/sequence/stem``,
    ``is_neutral`` means PSPI == 0, ``landmarks`` are the (66, 2) AAM points when the file exists.
    Frames without a PSPI label file are skipped (counted in a notice). Raises PainctlError naming the
    file and line of any label that is not a number.
    """
    root = Path(root)
    if not is_unbc(root):
        raise PainctlError(f"{root}: not a UNBC-McMaster tree (expected Images/ and Frame_Labels/)")
    pspi_root = root / "Frame_Labels" / "PSPI"
    facs_root = root / "Frame_Labels" / "FACS"
    aam_root = root / "AAM_landmarks"
    frames: list[Frame] = []
    unlabelled = 0
    no_landmarks = 0
    no_landmark_folder = 0
    subjects = sorted(p for p in (root / "Images").iterdir() if p.is_dir())
    for subject_dir in console.track(subjects, total=len(subjects), description="reading UNBC-McMaster"):
        subject = subject_dir.name
        for sequence_dir in sorted(p for p in subject_dir.iterdir() if p.is_dir()):
            sequence = sequence_dir.name
            landmarks = _landmark_index(aam_root / subject / sequence, sequence)
            if not landmarks:
                no_landmark_folder += 1
            number = re.compile(re.escape(sequence) + r"(\d+)$")
            for image in sorted(sequence_dir.iterdir()):
                if image.suffix.lower() not in IMAGE_SUFFIXES or not image.is_file():
                    continue
                stem = image.stem
                pspi_file = pspi_root / subject / sequence / f"{stem}_facs.txt"
                if not pspi_file.is_file():
                    unlabelled += 1
                    continue
                value = read_pspi_file(pspi_file)
                facs_file = facs_root / subject / sequence / f"{stem}_facs.txt"
                au = read_facs_file(facs_file) if facs_file.is_file() else np.full(len(AU_NAMES), np.nan, np.float32)
                match = number.match(stem)
                lm_file = landmarks.get(int(match.group(1))) if match else None
                no_landmarks += lm_file is None
                frames.append(
                    Frame(
                        image=image,
                        subject=subject,
                        pspi=value,
                        au=au,
                        view="",
                        is_neutral=value == 0,
                        landmarks=read_landmark_file(lm_file) if lm_file is not None else None,
                        key=f"{subject}/{sequence}/{stem}",
                    )
                )
    if unlabelled:
        console.info(f"{root}: skipped {console.plural(unlabelled, 'image')} without a Frame_Labels/PSPI file")
    imageless = _labels_without_images(root, pspi_root)
    if imageless:
        console.warn(f"{root}: {console.plural(imageless, 'Frame_Labels/PSPI file')} {'has' if imageless == 1 else 'have'} no image under Images/; "
                     "those frames are left out")
    if no_landmarks:
        folders = f" ({console.plural(no_landmark_folder, 'sequence folder')} missing)" if no_landmark_folder else ""
        console.warn(f"{root}: {no_landmarks} of {console.plural(len(frames), 'frame')} {'has' if no_landmarks == 1 else 'have'} no AAM_landmarks file{folders}; "
                     f"those faces are used whole, not cropped around their landmarks")
    if not frames:
        raise PainctlError(f"{root}: no labelled frames found under Images/ (is Frame_Labels/PSPI complete?)")
    return frames


def _labels_without_images(root: Path, pspi_root: Path) -> int:
    """Count PSPI label files whose frame has no image (a frame that would vanish without notice)."""
    if not pspi_root.is_dir():
        return 0
    missing = 0
    for label in pspi_root.glob("*/*/*_facs.txt"):
        stem = label.name[: -len("_facs.txt")]
        folder = root / "Images" / label.parent.parent.name / label.parent.name
        if not any((folder / f"{stem}{suffix}").is_file() for suffix in IMAGE_SUFFIXES):
            missing += 1
    return missing
