"""The AU rig: pain expressions at exact PSPI levels on anny heads (directly) and on any other
mesh (deformation transfer). Arrays in, arrays out; the rig stage is :mod:`painctl.stages.rig`. See :mod:`painctl.rigging.aumap` for the AU table and intensity curve."""

from painctl.rigging.aumap import AU_CONTROLS, au_to_weights, intensity_to_fraction
from painctl.rigging.configs import all_configurations, configurations_with_pspi, sample_configuration

__all__ = [
    "AU_CONTROLS",
    "all_configurations",
    "au_to_weights",
    "configurations_with_pspi",
    "intensity_to_fraction",
    "sample_configuration",
]
