#!/usr/bin/env python3
"""Lay out a SageMaker-style /opt/ml directory for a local training run.

    tools/local_job.py DIR [-p KEY=VALUE ...] [--source-dir PATH] [--channel NAME=PATH]
                           [--host NAME] [--hosts NAME,NAME]

Hyperparameter values are JSON-encoded as the SageMaker Python SDK sends them: json.dumps of the
typed value (on the command line, numbers, booleans and JSON objects are recognised, anything
else is a string). From Python, `lay_out(root, {...})` takes the typed values themselves.
The source directory is copied to code/, where SageMaker unpacks sagemaker_submit_directory.
Channels are copied into input/data/NAME. Output, model and checkpoint directories are created
empty, except that existing checkpoints are kept (a rerun resumes, as a restarted spot job does).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def decode(value: str) -> Any:
    """A value typed on the command line: JSON where it parses (numbers, booleans, objects),
    else the string."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def lay_out(
    root: Path,
    hyperparameters: Mapping[str, Any] | None = None,
    source_dir: Path | None = None,
    program: str | None = None,
    channels: Mapping[str, Path] | None = None,
    host: str = "algo-1",
    hosts: Sequence[str] = (),
) -> Path:
    """`root` as the /opt/ml of `host` (of `hosts`, for a multi-host job); returns it.
    Each hyperparameter is JSON-encoded as the SageMaker Python SDK sends it (json.dumps of
    the value: the string "500" stays a string, which the job decodes as SageMaker does)."""
    root = Path(root)
    config = root / "input" / "config"
    for path in (root / "model", root / "output", root / "code", root / "input" / "data"):
        if path.exists():
            shutil.rmtree(path)
    for path in (config, root / "model", root / "output" / "data", root / "checkpoints"):
        path.mkdir(parents=True, exist_ok=True)

    encoded = {key: json.dumps(value) for key, value in (hyperparameters or {}).items()}
    if source_dir:
        shutil.copytree(source_dir, root / "code")
    else:
        (root / "code").mkdir()
    if program:
        encoded["sagemaker_program"] = json.dumps(program)

    inputs = {}
    for name, path in (channels or {}).items():
        shutil.copytree(Path(path), root / "input" / "data" / name)
        inputs[name] = {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"}

    names = list(hosts) or [host]
    resources = {
        "current_host": host,
        "hosts": names,
        "current_group_name": "homogeneousCluster",
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": "local", "hosts": names}
        ],
        "network_interface_name": "eth0",
    }
    (config / "hyperparameters.json").write_text(json.dumps(encoded, indent=2))
    (config / "resourceconfig.json").write_text(json.dumps(resources, indent=2))
    (config / "inputdataconfig.json").write_text(json.dumps(inputs, indent=2))
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("-p", "--hyperparameter", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--source-dir", type=Path, help="copied to code/ (sagemaker_submit_directory)"
    )
    parser.add_argument("--program", help="sagemaker_program: the script in the source dir")
    parser.add_argument("--channel", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--host", default="algo-1")
    parser.add_argument("--hosts", help="comma-separated; defaults to --host")
    args = parser.parse_args(argv)

    hyperparameters = {}
    for item in args.hyperparameter:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"hyperparameter {item!r} is not KEY=VALUE")
        hyperparameters[key] = decode(value)
    channels = {}
    for item in args.channel:
        name, _, path = item.partition("=")
        channels[name] = Path(path)
    lay_out(
        args.dir,
        hyperparameters,
        source_dir=args.source_dir,
        program=args.program,
        channels=channels,
        host=args.host,
        hosts=args.hosts.split(",") if args.hosts else (),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
