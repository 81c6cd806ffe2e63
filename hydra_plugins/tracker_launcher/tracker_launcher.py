"""Discovery shim: Hydra instantiates launchers only from classes defined under hydra_plugins.

All logic lives in the ``launcher`` package; these classes only give it names Hydra accepts.
"""

from launcher.config import register_configs
from launcher.launchers import (
    TrackedBasicLauncherBase,
    TrackedSlurmLauncherBase,
    TrackedSubmititLocalLauncherBase,
)


class TrackedLauncher(TrackedBasicLauncherBase):
    """``hydra/launcher=tracked``: in-process jobs."""


class TrackedSubmititLocalLauncher(TrackedSubmititLocalLauncherBase):
    """``hydra/launcher=tracked_submitit_local``: local subprocesses through submitit."""


class TrackedSlurmLauncher(TrackedSlurmLauncherBase):
    """``hydra/launcher=tracked_slurm``: a Slurm job array through submitit."""


register_configs(
    basic_target=f"{__name__}.TrackedLauncher",
    submitit_local_target=f"{__name__}.TrackedSubmititLocalLauncher",
    slurm_target=f"{__name__}.TrackedSlurmLauncher",
)
