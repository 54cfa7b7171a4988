"""painctl: synthetic 3D pain faces with exact AU/PSPI labels, and ViTPain, as command-line stages.

Every stage is also a function here (``painctl.rig(heads, "pain/", pspi=8)``) that returns the
artefact it wrote, opened; ``painctl.open(path)`` opens any artefact. ``painctl.train``,
``painctl.evaluate`` (the eval command) and ``painctl.predict`` return the selected checkpoint's path,
the report and the scores; ``painctl.convert_checkpoint`` returns the path of the checkpoint it wrote. See README's Python API section.
"""

__version__ = "0.1.0"

__all__ = ["contact_sheet", "export", "heatmap", "merge", "open", "render_neutral", "render_views", "rig", "sample_mesh", "texture",
           "train", "evaluate", "predict", "convert_checkpoint"]


def __getattr__(name: str):
    # The stage functions load on first use, so `import painctl` (and the CLI's start) stays light.
    if name in __all__:
        from painctl import api

        return getattr(api, name)
    if name == "eval":  # the command's name; as a function it would shadow Python's eval
        raise AttributeError("module 'painctl' has no attribute 'eval': `painctl eval` is painctl.evaluate")
    raise AttributeError(f"module 'painctl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
