"""ViTPain checkpoints: a directory with config.json, model.safetensors and training.json; never pickle.

config.json holds the format marker, the ModelConfig and the backbone description (for a pretrained
backbone its hub id or directory and normalisation statistics, not its weights); model.safetensors
holds only the trainable tensors (LoRA adapters and heads, or everything for the tiny backbone);
training.json holds what the trainer records (data subjects, epochs, metrics). Loading checks the
marker, the safetensors header and every tensor name and shape before any weight is read.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path
from typing import Any

from painctl.errors import PainctlError
from painctl.vitpain.backbone import BackboneSpec
from painctl.vitpain.config import ModelConfig

FORMAT = "painctl-vitpain"
VERSION = 1
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
TRAINING = "training.json"
_MAX_JSON = 16 << 20
_MAX_HEADER = 64 << 20


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in training.json")


def save_checkpoint(model, model_config: ModelConfig, out_dir: str | Path, extra: dict | None = None, extra_files: dict | None = None) -> Path:
    """Write ``model`` as a checkpoint directory ``out_dir`` (replaced atomically) and return its path.

    ``extra`` (JSON-able: subjects, epoch, metrics...) goes to training.json; ``extra_files`` maps
    file names to functions writing them (given the path), for state kept beside the model.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    write_checkpoint(model, model_config, tmp, extra, extra_files)
    old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
    if out_dir.exists():
        out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
    return out_dir


def write_checkpoint(model, model_config: ModelConfig, directory: str | Path, extra: dict | None = None,
                     extra_files: dict | None = None) -> None:
    """Write ``model``'s checkpoint files (config.json, model.safetensors, training.json and
    ``extra_files``) into the existing, empty ``directory``: the files only, for a caller that makes
    the directory and puts it in place atomically itself (the stage runner; :func:`save_checkpoint`)."""
    directory = Path(directory)
    config = {"format": FORMAT, "version": VERSION, "model": model_config.to_dict(), "backbone": model.spec.to_dict()}
    (directory / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    tensors = {k: v.detach().to("cpu").float().contiguous() for k, v in model.trainable_state_dict().items()}
    (directory / WEIGHTS).write_bytes(_safetensors_bytes(tensors, {"format": "pt", "painctl": FORMAT}))
    (directory / TRAINING).write_text(json.dumps(extra or {}, indent=2, sort_keys=True, default=_json_default) + "\n")
    for name, write in (extra_files or {}).items():
        write(directory / name)


def _checkpoint_dir(path: str | Path) -> Path:
    path = Path(path)
    if path.is_file() and path.name in (CONFIG, WEIGHTS, TRAINING):
        path = path.parent
    if not path.exists():
        raise PainctlError(f"checkpoint {path}: no such directory")
    if not path.is_dir():
        raise PainctlError(f"checkpoint {path} is a file; painctl checkpoints are directories with {CONFIG} and {WEIGHTS} (refusing to unpickle or guess)")
    if not (path / CONFIG).exists() and (path / "best" / CONFIG).is_file():
        return path / "best"  # a training run's OUT stands for its selected checkpoint
    return path


def read_config(path: str | Path) -> tuple[ModelConfig, BackboneSpec]:
    """Read and check a checkpoint's config.json; return its ModelConfig and BackboneSpec."""
    root = _checkpoint_dir(path)
    file = root / CONFIG
    if not file.is_file():
        raise PainctlError(f"{root} is not a painctl ViTPain checkpoint (no {CONFIG})")
    if file.stat().st_size > _MAX_JSON:
        raise PainctlError(f"{file} is too large to be a checkpoint config")
    try:
        data = json.loads(file.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PainctlError(f"{file} is not valid JSON: {root} is not a painctl ViTPain checkpoint") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        kind = data.get("model_type") if isinstance(data, dict) else None
        what = f"a Hugging Face {kind} model" if kind else "another kind of model"
        hint = " (use it as {backbone} instead)" if kind in ("dinov3_vit", "dinov2", "dinov2_with_registers") else ""
        raise PainctlError(f"{root} holds {what}, not a painctl ViTPain checkpoint{hint}", params=("backbone",))
    if data.get("version") != VERSION:
        raise PainctlError(f"{root} is a ViTPain checkpoint of format version {data.get('version')}; this painctl reads version {VERSION}")
    return ModelConfig.from_dict(data.get("model")), BackboneSpec.from_dict(data.get("backbone") or {})


def _safetensors_bytes(tensors: dict, metadata: dict[str, str]) -> bytes:
    """Serialise ``tensors`` as safetensors with a byte-stable header.

    safetensors writes its ``__metadata__`` map in hash order, which differs between processes:
    the header is rewritten here with sorted keys (same length, same data offsets), so the same
    weights always give the same file.
    """
    from safetensors.torch import save

    blob = save(dict(sorted(tensors.items())), metadata=metadata)
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.dumps(json.loads(blob[8 : 8 + length]), separators=(",", ":"), sort_keys=True).encode()
    if len(header) > length:  # cannot happen (same content); keep safetensors' own bytes then
        return blob
    return blob[:8] + header.ljust(length, b" ") + blob[8 + length :]


def _safetensors_shapes(file: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Parse the safetensors header of ``file`` (no tensor data read): name -> (dtype, shape)."""
    size = file.stat().st_size
    with file.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise PainctlError(f"{file} is not a safetensors file (too short)")
        (length,) = struct.unpack("<Q", head)
        if length > min(_MAX_HEADER, size - 8):
            raise PainctlError(f"{file} is not a safetensors file (refusing to load it: it may be a pickle or another format)")
        raw = fh.read(length)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PainctlError(f"{file} is not a safetensors file (refusing to load it: it may be a pickle or another format)") from None
    if not isinstance(header, dict):
        raise PainctlError(f"{file} has a malformed safetensors header")
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            out[name] = (str(info["dtype"]), tuple(int(d) for d in info["shape"]))
        except (KeyError, TypeError, ValueError):
            raise PainctlError(f"{file} has a malformed safetensors header") from None
    return out


def load_checkpoint(path: str | Path, device: str = "cpu"):
    """Load a checkpoint directory; return ``(model, model_config, extra)`` with the model in eval mode.

    Refuses (PainctlError, one sentence) anything that is not a painctl ViTPain checkpoint, weights
    that are not safetensors, and tensors whose names or shapes differ from the architecture in
    config.json. Pretrained backbones are rebuilt from their local files.
    """
    from safetensors.torch import load_file

    from painctl.vitpain.model import build_model

    root = _checkpoint_dir(path)
    config, spec = read_config(root)
    weights = root / WEIGHTS
    if not weights.is_file():
        raise PainctlError(f"checkpoint {root} has no {WEIGHTS}")
    stored = _safetensors_shapes(weights)
    model = build_model(config, spec)
    expected = {k: tuple(v.shape) for k, v in model.trainable_state_dict().items()}
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    wrong = sorted(k for k in set(expected) & set(stored) if stored[k][1] != expected[k])
    if missing or unexpected or wrong:
        detail = "; ".join(
            f"{label} {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
            for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
            if names
        )
        raise PainctlError(f"checkpoint {root} does not match the ViTPain architecture its config.json describes ({detail})")
    if any(not stored[k][0].startswith(("F", "BF")) for k in stored):
        raise PainctlError(f"checkpoint {root} holds non-floating-point weights")
    try:
        tensors = load_file(str(weights))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise PainctlError(f"{weights} is damaged ({exc})") from None
    model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=False)
    model.to(device).eval()
    extra: dict[str, Any] = {}
    train_file = root / TRAINING
    if train_file.is_file() and train_file.stat().st_size <= _MAX_JSON:
        try:
            extra = json.loads(train_file.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise PainctlError(f"{train_file} is not valid JSON") from None
    return model, config, extra


__all__ = ["save_checkpoint", "write_checkpoint", "load_checkpoint", "read_config", "FORMAT", "VERSION"]
