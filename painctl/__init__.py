"""painctl: synthetic 3D pain faces with exact AU/PSPI labels, and ViTPain, as command-line stages."""

__version__ = "0.1.0"
