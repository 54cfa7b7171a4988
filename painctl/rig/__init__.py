"""The AU rig: pain expressions at exact PSPI levels on anny heads (directly) and on any other
mesh (deformation transfer). See :mod:`painctl.rig.aumap` for the AU table and intensity curve."""

from painctl.rig.aumap import AU_CONTROLS, au_to_weights, intensity_to_fraction
from painctl.rig.configs import all_configurations, configurations_with_pspi, sample_configuration
from painctl.rig.stage import RigRequest, rig_identities

__all__ = [
    "AU_CONTROLS",
    "RigRequest",
    "all_configurations",
    "au_to_weights",
    "configurations_with_pspi",
    "intensity_to_fraction",
    "rig_identities",
    "sample_configuration",
]
