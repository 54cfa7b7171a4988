"""What this machine can run: the renderer, CUDA, optional backends and weights, caches and disk.

Each check returns a :class:`Check` saying what was found and, when something is missing, the exact
line that installs it or points painctl to it. ``required`` checks are the embedded defaults
(torch, the EGL renderer, the anny head model); everything else is optional.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

#: Models painctl can use, by the KIND a user names them with (``doctor --model KIND=PATH``):
#: (what it is, the Hub ids painctl looks for, the file that marks a usable copy ("" = any file), the option that takes a path).
MODELS: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "prior": ("Kandinsky 2.2 prior", ("kandinsky-community/kandinsky-2-2-prior",), "model_index.json",
              "painctl render-neutral --backend kandinsky --prior-model DIR"),
    "controlnet": ("Kandinsky 2.2 depth ControlNet", ("kandinsky-community/kandinsky-2-2-controlnet-depth",), "model_index.json",
                   "painctl render-neutral --backend kandinsky --model DIR"),
    "inpaint": ("Kandinsky 2.2 inpainting", ("kandinsky-community/kandinsky-2-2-decoder-inpaint",), "model_index.json",
                "painctl render-views --background kandinsky-inpaint --inpaint-model DIR"),
    # Hunyuan3D's own loaders fetch only their subfolders: any file of the repository counts.
    "hunyuan": ("Hunyuan3D 2.1 paint weights", ("tencent/Hunyuan3D-2.1", "tencent/Hunyuan3D-2"), "",
                "painctl texture --backend hunyuan (weights where Hunyuan3D's own loader finds them)"),
    "dinov3": ("DINOv3 backbone", ("facebook/dinov3-vits16-pretrain-lvd1689m", "facebook/dinov3-vitb16-pretrain-lvd1689m",
                                   "facebook/dinov3-vitl16-pretrain-lvd1689m"), "config.json",
               "painctl train --backbone DIR"),
}

#: Below this much free space (bytes) the disk check warns: a full-size generation run writes tens of GB.
LOW_DISK = 10 * 2**30

EGL_PACKAGES = "libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri"


@dataclass
class Check:
    """One line of the report: ``name`` found (``ok``) or not, ``detail`` (what was found or why not),
    ``fix`` (the exact line that installs or points to it, when not ok) and whether the embedded
    defaults need it (``required``)."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None
    required: bool = False


def check_egl(timeout_s: float = 120.0) -> Check:
    """Create an EGL OpenGL 3.3 context as the moderngl renderer does (in a child process, so a driver
    crash cannot take the report down) and report its GL_RENDERER string."""
    code = ("import moderngl; c = moderngl.create_standalone_context(backend='egl', require=330); "
            "print(c.info['GL_RENDERER']); print(c.info['GL_VERSION'])")
    fix = f"sudo apt-get install {EGL_PACKAGES}"
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return Check("EGL renderer", False, f"creating an EGL context took over {timeout_s:g} s", fix, required=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        return Check("EGL renderer", False, f"no EGL OpenGL 3.3 context ({last})", fix, required=True)
    renderer, _, version = proc.stdout.strip().partition("\n")
    kind = "software, on the CPU" if any(s in renderer.lower() for s in ("llvmpipe", "softpipe", "swrast")) else "hardware"
    return Check("EGL renderer", True, f"GL_RENDERER {renderer} ({kind}); OpenGL {version.strip()}", required=True)


def check_torch_cuda() -> list[Check]:
    """torch itself (required) and CUDA with its devices (optional: everything also runs on the CPU)."""
    try:
        import torch
    except ImportError as exc:
        return [Check("torch", False, f"not importable ({exc})", "pip install -c constraints.txt -e .", required=True)]
    checks = [Check("torch", True, f"torch {torch.__version__}", required=True)]
    if torch.version.cuda is None:
        checks.append(Check("CUDA", False, f"torch {torch.__version__} is a CPU-only build (training and diffusion run on the CPU)",
                            "pip install -c constraints.txt --force-reinstall torch==2.13.0   # PyPI's Linux wheel is the CUDA build"))
    elif not torch.cuda.is_available():
        checks.append(Check("CUDA", False, f"torch built for CUDA {torch.version.cuda}, but no device is visible",
                            "nvidia-smi   # check the driver and CUDA_VISIBLE_DEVICES"))
    else:
        devices = []
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            devices.append(f"cuda:{i} {p.name} ({p.total_memory / 2**30:.0f} GiB, sm_{p.major}{p.minor})")
        checks.append(Check("CUDA", True, f"CUDA {torch.version.cuda}, {len(devices)} device{'s' if len(devices) != 1 else ''}: " + "; ".join(devices)))
    return checks


def check_module(name: str, what: str, fix: str, module: str | None = None) -> Check:
    """Whether the optional package ``module`` (default ``name``) is importable, without importing it."""
    spec = importlib.util.find_spec(module or name)
    if spec is None:
        return Check(name, False, f"{what}: not installed", fix)
    version = _version(module or name)
    return Check(name, True, f"{what}{f' {version}' if version else ''}")


def _version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def check_hunyuan_code() -> Check:
    """Hunyuan3D's paint pipeline code (2.1's textureGenPipeline, or hy3dgen of 2.0)."""
    for module in ("textureGenPipeline", "hy3dgen"):
        if importlib.util.find_spec(module) is not None:
            return Check("Hunyuan3D code", True, f"importable ({module})")
    return Check("Hunyuan3D code", False, "the paint pipeline is not importable",
                 "git clone https://github.com/Tencent-Hunyuan/Hunyuan3D-2.1 && pip install -r Hunyuan3D-2.1/requirements.txt"
                 "   # on a CUDA machine; then build hy3dpaint's custom rasteriser as its README says")


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache painctl reads models from (HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def find_model(kind: str, given: str | None = None) -> Check:
    """Look for the ``kind`` model (a key of :data:`MODELS`): at ``given`` (a directory or a Hub id),
    else any of its usual Hub ids in the local Hugging Face cache. Nothing is downloaded."""
    what, ids, marker, option = MODELS[kind]
    if given is not None:
        path = Path(given).expanduser()
        if path.is_dir():
            if (path / marker).is_file() if marker else any(path.iterdir()):
                return Check(what, True, f"{path} (given)")
            return Check(what, False, f"{path} has no {marker}: not a {what} directory", f"{option.replace('DIR', 'a directory holding ' + marker)}")
        ids = (given,)
    from huggingface_hub import try_to_load_from_cache

    for repo in ids:
        try:
            hit = try_to_load_from_cache(repo, marker) if marker else _any_snapshot_file(repo)
        except Exception:  # noqa: BLE001 - a malformed id or cache: not found
            hit = None
        if isinstance(hit, str):
            return Check(what, True, f"{repo} in the Hugging Face cache ({hub_cache_dir() / ('models--' + repo.replace('/', '--'))})")
    gated = " (accept the licence on its Hub page and 'hf auth login' first)" if kind == "dinov3" else ""
    return Check(what, False, f"{' or '.join(ids)} not in the Hugging Face cache ({hub_cache_dir()})",
                 f"hf download {ids[0]}{gated}   # or pass a local copy: {option}")


def anny_cache_dir() -> Path | None:
    """Where anny keeps its built head model (ANNY_CACHE_DIR, else ~/.cache/anny); None without anny."""
    if importlib.util.find_spec("anny") is None:
        return None
    from painctl.facemodels import anny_cache_root

    return anny_cache_root()


def _any_snapshot_file(repo: str) -> str | None:
    """The path of some file of a cached snapshot of model ``repo``, or None."""
    snapshots = hub_cache_dir() / f"models--{repo.replace('/', '--')}" / "snapshots"
    found = next((p for p in snapshots.glob("*/**/*") if p.is_file()), None) if snapshots.is_dir() else None
    return None if found is None else str(found)


def check_anny_cache() -> Check:
    """The anny head model's built cache (ANNY_CACHE_DIR): present, or built on first use (~3 min, 3.5 GB RAM)."""
    cache = anny_cache_dir()
    if cache is None:
        return Check("anny head model", False, "the anny package is not installed", "pip install -c constraints.txt anny", required=True)
    files = sorted(cache.glob("**/*.safetensors")) if cache.is_dir() else []
    if files:
        size = sum(f.stat().st_size for f in files)
        return Check("anny head model", True, f"cache built in {cache} ({size / 2**30:.1f} GiB)", required=True)
    # Not an error: the first sample-mesh builds it; say where and how to keep it.
    return Check("anny head model", True,
                 f"no built cache in {cache} yet: the first 'painctl sample-mesh' builds it (about 3 min, 3.5 GB RAM, 0.6 GB disk)",
                 f"export ANNY_CACHE_DIR={cache}   # keep this directory between runs", required=True)


def check_disk(paths: Mapping[str, Path]) -> list[Check]:
    """Free space under each of ``paths`` (label -> directory; the nearest existing parent is measured)."""
    checks, seen = [], set()
    for label, path in paths.items():
        probe = Path(path).expanduser().absolute()
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        usage = shutil.disk_usage(probe)
        if (usage.total, usage.free) in seen and label != "working directory":
            continue
        seen.add((usage.total, usage.free))
        ok = usage.free >= LOW_DISK
        checks.append(Check(f"free disk ({label})", ok, f"{usage.free / 2**30:.1f} GiB free of {usage.total / 2**30:.0f} GiB at {probe}",
                            None if ok else f"free space under {probe} (a full 2,500-identity run writes tens of GB)"))
    return checks


def run_checks(models: Mapping[str, str] | None = None, egl: Callable[[], Check] = check_egl) -> list[Check]:
    """Run every check; ``models`` maps a :data:`MODELS` kind to a directory or Hub id the user gave."""
    models = dict(models or {})
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        from painctl.errors import PainctlError

        raise PainctlError(f"{{model}} {unknown[0]}=...: unknown kind (kinds: {', '.join(MODELS)})", params=("model",))
    checks = [egl(), *check_torch_cuda(), check_anny_cache()]
    checks.append(check_module("pytorch3d", "PyTorch3D renderer (--renderer pytorch3d)",
                               "pip install --no-build-isolation 'git+https://github.com/facebookresearch/pytorch3d.git'   # needs the CUDA toolkit"))
    checks.append(check_module("accelerate", "multi-GPU training (accelerate launch -m painctl train)",
                               "pip install -c constraints.txt 'painctl[gpu]'   # or: pip install -c constraints.txt accelerate"))
    checks.append(check_hunyuan_code())
    checks += [find_model(kind, models.get(kind)) for kind in MODELS]
    anny_cache = anny_cache_dir()
    disks = {"working directory": Path.cwd(), "Hugging Face cache": hub_cache_dir()}
    if anny_cache is not None:
        disks["anny cache"] = anny_cache
    checks += check_disk(disks)
    return checks


def defaults_work(checks: list[Check]) -> bool:
    """True when every check the embedded defaults need passed."""
    return all(c.ok for c in checks if c.required)


def format_report(checks: list[Check]) -> str:
    """The report as text: one line per check (ok / missing / low), each missing part followed by its fix."""
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        mark = "ok" if c.ok else ("FAIL" if c.required else "missing" if not c.name.startswith("free disk") else "low")
        lines.append(f"{mark:<8}{c.name:<{width}}  {c.detail}")
        if c.fix and (not c.ok or c.required):
            lines.append(f"{'':<8}{'':<{width}}  -> {c.fix}")
    missing = [c.name for c in checks if not c.ok and not c.required]
    if defaults_work(checks):
        tail = f"the embedded defaults work here; {len(missing)} optional part{'s' if len(missing) != 1 else ''} missing" if missing else "everything painctl can use is here"
    else:
        tail = "the embedded defaults do NOT work here: " + ", ".join(c.name for c in checks if c.required and not c.ok)
    return "\n".join(lines) + "\n" + tail + "\n"


def report_dict(checks: list[Check]) -> dict:
    """The report as a JSON-ready dict: {"defaults_work": bool, "checks": [Check fields, ...]}."""
    return {"defaults_work": defaults_work(checks), "checks": [asdict(c) for c in checks]}


__all__ = ["Check", "MODELS", "run_checks", "defaults_work", "format_report", "report_dict", "check_egl", "find_model",
           "check_torch_cuda", "check_anny_cache", "check_disk", "hub_cache_dir"]
