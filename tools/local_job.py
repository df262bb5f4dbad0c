#!/usr/bin/env python3
"""Lay out a SageMaker-style /opt/ml directory for a local training run.

    tools/local_job.py DIR [-p KEY=VALUE ...] [--source-dir PATH] [--channel NAME=PATH]
                           [--host NAME] [--hosts NAME,NAME]

Hyperparameter values are JSON-encoded as the SageMaker Python SDK sends them: json.dumps of the
typed value (numbers, booleans and JSON objects are recognised, anything else is a string).
The source directory is copied to code/, where SageMaker unpacks sagemaker_submit_directory.
Channels are copied into input/data/NAME. Output, model and checkpoint directories are created
empty, except that existing checkpoints are kept (a rerun resumes, as a restarted spot job does).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path


def encode(value: str) -> str:
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError:
        decoded = value
    return json.dumps(decoded)


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

    root: Path = args.dir
    config = root / "input" / "config"
    for path in (
        root / "model",
        root / "output",
        root / "code",
        root / "input" / "data",
    ):
        if path.exists():
            shutil.rmtree(path)
    for path in (
        config,
        root / "model",
        root / "output" / "data",
        root / "checkpoints",
    ):
        path.mkdir(parents=True, exist_ok=True)

    hyperparameters = {}
    for item in args.hyperparameter:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"hyperparameter {item!r} is not KEY=VALUE")
        hyperparameters[key] = encode(value)
    if args.source_dir:
        shutil.copytree(args.source_dir, root / "code")
    else:
        (root / "code").mkdir()
    if args.program:
        hyperparameters["sagemaker_program"] = json.dumps(args.program)

    channels = {}
    for item in args.channel:
        name, _, path = item.partition("=")
        shutil.copytree(Path(path), root / "input" / "data" / name)
        channels[name] = {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
        }

    hosts = args.hosts.split(",") if args.hosts else [args.host]
    resources = {
        "current_host": args.host,
        "hosts": hosts,
        "current_group_name": "homogeneousCluster",
        "instance_groups": [
            {
                "instance_group_name": "homogeneousCluster",
                "instance_type": "local",
                "hosts": hosts,
            }
        ],
        "network_interface_name": "eth0",
    }
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters, indent=2))
    (config / "resourceconfig.json").write_text(json.dumps(resources, indent=2))
    (config / "inputdataconfig.json").write_text(json.dumps(channels, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
