"""Load diffusers pipelines from Hugging Face ids or local directories, offline only.

Nothing is ever downloaded: a Hub id must already be in the local Hugging Face cache. Every
failure becomes one PainctlError naming the model and what is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

from painctl.errors import PainctlError

#: Default Hub ids of the real Kandinsky 2.2 weights (used when present in the local cache).
PRIOR_MODEL = "kandinsky-community/kandinsky-2-2-prior"
CONTROLNET_MODEL = "kandinsky-community/kandinsky-2-2-controlnet-depth"
INPAINT_MODEL = "kandinsky-community/kandinsky-2-2-decoder-inpaint"


def pick_device() -> tuple[str, "object"]:
    """Return (device, dtype): ("cuda", float16) when a GPU is available, else ("cpu", float32)."""
    import torch

    if torch.cuda.is_available():
        return "cuda", torch.float16
    return "cpu", torch.float32


#: Files that make a component's subfolder loadable, by kind: weights for models, config for the rest.
_WEIGHTS = ("*.safetensors",)
_CONFIGS = ("config.json", "scheduler_config.json", "preprocessor_config.json", "tokenizer_config.json",
            "vocab.json", "tokenizer.json")


def check_pipeline_dir(directory: Path, cls_name: str, model: str, what: str) -> None:
    """Check a diffusers pipeline directory before loading it: model_index.json names ``cls_name``
    and every component it lists has its subfolder, config and (for models) safetensors weights.
    Raises PainctlError naming the model and the first missing component."""
    import json

    index_path = directory / "model_index.json"
    if not index_path.is_file():
        raise PainctlError(f"{{{what}}} {model}: not a diffusers pipeline directory (model_index.json is missing)", params=(what,))
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError) as exc:
        raise PainctlError(f"{{{what}}} {model}: model_index.json is not valid JSON ({exc})", params=(what,)) from None
    found = index.get("_class_name")
    if found != cls_name:
        raise PainctlError(f"{{{what}}} {model}: is a {found or 'unnamed'} pipeline, expected a {cls_name}", params=(what,))
    for name, spec in sorted(index.items()):
        if name.startswith("_") or not isinstance(spec, list) or len(spec) != 2 or spec[0] is None:
            continue
        sub = directory / name
        if not sub.is_dir():
            raise PainctlError(f"{{{what}}} {model}: component {name!r} ({spec[1]}) is missing (no {name}/ folder)", params=(what,))
        if not any((sub / c).is_file() for c in _CONFIGS):
            raise PainctlError(f"{{{what}}} {model}: component {name!r} ({spec[1]}) has no config file in {name}/", params=(what,))
        is_model = (sub / "config.json").is_file() and not (sub / "preprocessor_config.json").is_file()
        if is_model and not any(sub.glob(_WEIGHTS[0])):
            raise PainctlError(f"{{{what}}} {model}: component {name!r} ({spec[1]}) has no .safetensors weights in {name}/ "
                               "(painctl loads safetensors only, never pickled .bin files)", params=(what,))


def _cached_snapshot(model: str, what: str) -> Path | None:
    """The local directory of Hub id ``model`` in the Hugging Face cache, or None when it is not there."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=True))
    except Exception:  # noqa: BLE001 - any failure means "not in the local cache"; reported by the caller
        return None


def load_pipeline(cls_name: str, model: str, what: str):
    """Load the diffusers pipeline class ``cls_name`` (e.g. "KandinskyV22PriorPipeline") from
    ``model`` (a local directory written by save_pretrained, or a Hub id already in the local
    cache) with local_files_only=True, move it to the best device and return it in eval mode.

    ``what`` is the parameter that named the model (e.g. "prior_model"): errors name it (the CLI, its flag).
    """
    import diffusers

    where = Path(os.path.expanduser(model))
    looks_local = where.is_absolute() or model.startswith(".") or where.exists() or model.count("/") != 1
    if looks_local and not where.is_dir():
        raise PainctlError(f"{{{what}}} {model}: no such model directory (pass a directory written by save_pretrained or a Hugging Face id in the local cache)", params=(what,))
    if where.is_dir():
        check_pipeline_dir(where, cls_name, model, what)
    else:
        snapshot = _cached_snapshot(model, what)
        if snapshot is not None:
            check_pipeline_dir(snapshot, cls_name, model, what)
    device, dtype = pick_device()
    diffusers.utils.logging.disable_progress_bar()
    cls = getattr(diffusers, cls_name)
    try:
        pipe = cls.from_pretrained(str(where) if where.is_dir() else model, dtype=dtype, local_files_only=True, use_safetensors=True)
    except (OSError, EnvironmentError) as exc:
        first = str(exc).strip().splitlines()[0].split(". ")[0] if str(exc).strip() else exc.__class__.__name__
        raise PainctlError(f"{{{what}}} {model}: cannot load {cls_name} offline ({first}); download it first, e.g. "
                           f"`huggingface-cli download {model if not where.is_dir() else '<hub id>'}`", params=(what,)) from None
    except (ValueError, TypeError, KeyError, RuntimeError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else exc.__class__.__name__
        raise PainctlError(f"{{{what}}} {model}: not a loadable {cls_name} ({first})", params=(what,)) from None
    pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    for component in pipe.components.values():
        if hasattr(component, "eval"):
            component.eval()
    return pipe


def generator(seed: int, device: str):
    """A torch Generator seeded with ``seed`` on ``device`` (CPU generators for reproducibility on CPU)."""
    import torch

    return torch.Generator(device=device).manual_seed(int(seed))
