"""The versions an exported model records in its metadata.json: whoever loads or serves the
model later can tell which Python, toolkit and framework produced it."""

from __future__ import annotations

import platform
from importlib import metadata

from sagemaker_rl_container import __version__


def installed_versions(*packages: str) -> dict[str, str]:
    """Python's, this package's, and each installed one of `packages`' version."""
    versions = {"python": platform.python_version(), "sagemaker-rl-container": __version__}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions
