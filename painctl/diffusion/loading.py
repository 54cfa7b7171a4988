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


def load_pipeline(cls_name: str, model: str, what: str):
    """Load the diffusers pipeline class ``cls_name`` (e.g. "KandinskyV22PriorPipeline") from
    ``model`` (a local directory written by save_pretrained, or a Hub id already in the local
    cache) with local_files_only=True, move it to the best device and return it in eval mode.

    ``what`` names the model's role in error messages (e.g. "--prior-model").
    """
    import diffusers

    where = Path(os.path.expanduser(model))
    looks_local = where.is_absolute() or model.startswith(".") or where.exists() or model.count("/") != 1
    if looks_local and not where.is_dir():
        raise PainctlError(f"{what} {model}: no such model directory (pass a directory written by save_pretrained or a Hugging Face id in the local cache)")
    if where.is_dir() and not (where / "model_index.json").is_file():
        raise PainctlError(f"{what} {model}: not a diffusers pipeline directory (model_index.json is missing)")
    device, dtype = pick_device()
    diffusers.utils.logging.disable_progress_bar()
    cls = getattr(diffusers, cls_name)
    try:
        pipe = cls.from_pretrained(str(where) if where.is_dir() else model, dtype=dtype, local_files_only=True)
    except (OSError, EnvironmentError) as exc:
        first = str(exc).strip().splitlines()[0].split(". ")[0] if str(exc).strip() else exc.__class__.__name__
        raise PainctlError(f"{what} {model}: cannot load {cls_name} offline ({first}); download it first, e.g. "
                           f"`huggingface-cli download {model if not where.is_dir() else '<hub id>'}`") from None
    except (ValueError, TypeError, KeyError, RuntimeError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else exc.__class__.__name__
        raise PainctlError(f"{what} {model}: not a loadable {cls_name} ({first})") from None
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
