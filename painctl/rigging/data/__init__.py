"""Data the rig ships (the fitted lid corrective) and the tool that makes it."""
