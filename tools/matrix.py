#!/usr/bin/env python3
"""The image matrix (images/matrix.toml): query it, generate Dockerfiles, resolve lock files.

    tools/matrix.py names [--built-here]      image names, one per line
    tools/matrix.py get NAME FIELD            dockerfile | lock | tag | tags | base_image |
                                              debian_suite | stand_in_base |
                                              torch_index_url | built_here | labels
    tools/matrix.py generate [--check]        write (or compare) every image's Dockerfile
    tools/matrix.py lock NAME [--find-links DIR]
                                              resolve NAME's packages into its lock file,
                                              exact versions with sha256 hashes

`names` and `get` need only the standard library (the Makefile calls them with any Python
3.11+); `generate` needs Jinja2 and `lock` needs pip.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
MATRIX = ROOT / "images" / "matrix.toml"
TEMPLATE = ROOT / "images" / "Dockerfile.template"
# Serve-only images ([[serve_image]] rows): the serving module and one model format's runtime.
SERVE_TEMPLATE = ROOT / "images" / "Dockerfile.serve.template"
REPOSITORY = "sagemaker-rl"
FRAMEWORK_TAG = {"pytorch": "torch", "tensorflow": "tf", "mxnet": "mxnet"}


def load() -> dict[str, dict]:
    data = tomllib.loads(MATRIX.read_text())
    defaults = data["defaults"]
    # Per-toolkit defaults (e.g. Coach's Python and packages) override the global ones.
    toolkit_defaults = data.get("toolkit_defaults", {})
    images = {}
    for entry in data["image"]:
        image = {**defaults, **toolkit_defaults.get(entry["toolkit"], {}), **entry}
        directory = Path("images") / image["toolkit"] / image["framework"] / image["processor"]
        images[image["name"]] = _completed(image, directory, "training", TEMPLATE)
    for entry in data.get("serve_image", []):
        # Python and base from [defaults]; none of the training images' packages.
        image = {"python": defaults["python"], "base_image": defaults["base_image"], **entry}
        image["common_packages"] = []
        directory = Path("images") / "serve" / image["model_format"] / image["processor"]
        images[image["name"]] = _completed(image, directory, "serve", SERVE_TEMPLATE)
    return images


def _completed(image: dict, directory: Path, kind: str, template: Path) -> dict:
    """A row with what every command derives from it: its files, tag and stand-in base."""
    image["dockerfile"] = str(directory / "Dockerfile")
    image["lock"] = str(directory / "requirements.lock.txt")
    image["tag"] = tags(image)[0]
    # The Debian release the public base is built on (python:3.9-slim-bullseye: bullseye),
    # and the local debootstrap stand-in used where that base cannot be pulled.
    image["debian_suite"] = image["base_image"].rsplit("-", 1)[-1]
    image["stand_in_base"] = f"local/stand-in-python:{image['python']}-{image['debian_suite']}"
    image["kind"] = kind
    image["template"] = template.name
    return image


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def processor_tag(image: dict) -> str:
    if image["processor"] == "cpu":
        return "cpu"
    return "cu" + image["cuda_version"].replace(".", "")


def tags(image: dict) -> list[str]:
    """Exact tag first, then the moving ones."""
    python = "py" + image["python"].replace(".", "")
    if "model_format" in image:  # serve-only: serve-onnx1.32-cpu-py311, serve-onnx-cpu
        runtime = f"{image['model_format']}{_minor(image['runtime_version'])}"
        return [
            f"serve-{runtime}-{processor_tag(image)}-{python}",
            f"serve-{image['model_format']}-{image['processor']}",
        ]
    toolkit = f"{image['toolkit']}{_minor(image['toolkit_version'])}"
    framework = FRAMEWORK_TAG[image["framework"]]
    exact = (
        f"{toolkit}-{framework}{_minor(image['framework_version'])}-{processor_tag(image)}-{python}"
    )
    return [
        exact,
        f"{toolkit}-{framework}-{image['processor']}",
        f"{image['toolkit']}-{framework}-{image['processor']}",
    ]


def labels(image: dict) -> dict[str, str]:
    """OCI and project labels; the Makefile adds org.opencontainers.image.revision at build."""
    if image.get("kind") == "serve":
        return {
            "org.opencontainers.image.title": f"{REPOSITORY} {image['name']}",
            "org.opencontainers.image.description": (
                f"serves {image['model_format']} policies trained by the {REPOSITORY} images "
                f"({image['runtime']} {image['runtime_version']}, {image['processor']}) on "
                "SageMaker hosting, batch transform and serverless inference"
            ),
            "org.opencontainers.image.version": image["tag"],
            "com.amazonaws.sagemaker.capabilities.accept-bind-to-port": "true",
            "ai.sagemaker-rl.model-format": image["model_format"],
            "ai.sagemaker-rl.runtime": image["runtime"],
            "ai.sagemaker-rl.runtime-version": image["runtime_version"],
            "ai.sagemaker-rl.python-version": image["python"],
            "ai.sagemaker-rl.processor": image["processor"],
        }
    result = {
        "org.opencontainers.image.title": f"{REPOSITORY} {image['name']}",
        "org.opencontainers.image.description": (
            f"{image['toolkit']} {image['toolkit_version']} with {image['framework']} "
            f"{image['framework_version']} ({image['processor']}) for SageMaker RL training"
        ),
        "org.opencontainers.image.version": image["tag"],
        "com.amazonaws.sagemaker.capabilities.accept-bind-to-port": "true",
        "ai.sagemaker-rl.toolkit": image["toolkit"],
        "ai.sagemaker-rl.toolkit-version": image["toolkit_version"],
        "ai.sagemaker-rl.framework": image["framework"],
        "ai.sagemaker-rl.framework-version": image["framework_version"],
        "ai.sagemaker-rl.python-version": image["python"],
        "ai.sagemaker-rl.processor": image["processor"],
    }
    if image["processor"] == "cuda":
        result["ai.sagemaker-rl.cuda-version"] = image["cuda_version"]
    return result


def render(image: dict) -> str:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    template = environment.get_template(image["template"])
    return template.render(image=image, labels=labels(image))


def generate(check: bool) -> int:
    stale = []
    for image in load().values():
        path = ROOT / image["dockerfile"]
        content = render(image)
        if check:
            if not path.exists() or path.read_text() != content:
                stale.append(image["dockerfile"])
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    if stale:
        print(
            "out of date with images/matrix.toml (run `make generate`): " + ", ".join(stale),
            file=sys.stderr,
        )
        return 1
    return 0


def python_for(version: str) -> str:
    """An interpreter of Python `version` (X.Y): this one, `pythonX.Y` on PATH, or pyenv's."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [str(path) for path in sorted(pyenv.glob(f"{version}.*/bin/python{version}"))]
    candidates += [found] if (found := shutil.which(f"python{version}")) else []
    for candidate in reversed(candidates):
        # A pyenv shim on PATH exists but may not run: try each.
        if subprocess.run([candidate, "-c", ""], capture_output=True).returncode == 0:
            return candidate
    raise SystemExit(f"lock: no Python {version} here (PATH or pyenv) to resolve for")


def _pypi_hashes(item: dict) -> list[str]:
    """The sha256 of the file pip picked, plus, for PyPI packages, those of the version's other
    Linux x86_64 files and sdist: the image's glibc (e.g. bullseye's 2.31) may need an older
    manylinux wheel than the one this machine's pip chose (as pip-compile --generate-hashes)."""
    archive = item["download_info"].get("archive_info", {})
    hashes = archive.get("hashes") or dict([archive.get("hash", "=").split("=", 1)])
    url = item["download_info"]["url"]
    if not url.startswith("http"):
        return []
    chosen = [hashes["sha256"]] if "sha256" in hashes else []
    if "files.pythonhosted.org" not in url:
        return chosen
    meta = item["metadata"]
    context = ssl.create_default_context(cafile=os.environ.get("PIP_CERT") or None)
    request = urllib.request.Request(
        f"https://pypi.org/simple/{meta['name']}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},  # PEP 691, as pip asks
    )
    with urllib.request.urlopen(request, timeout=60, context=context) as response:
        files = json.load(response)["files"]
    version = meta["version"]
    others = [
        file["hashes"]["sha256"]
        for file in files
        if "sha256" in file["hashes"]
        and (
            file["filename"].endswith((f"-{version}.tar.gz", f"-{version}.zip"))
            or (
                f"-{version}-" in file["filename"]
                and file["filename"].endswith(("-any.whl", "x86_64.whl"))
                and "linux" in file["filename"] + "-any"
            )
        )
    ]
    return chosen + sorted(set(others) - set(chosen))


def lock(name: str, find_links: str | None, upgrade: bool = False) -> int:
    """Resolve with pip's dry-run report: exact versions and the hashes the index publishes.

    Packages already in the lock keep their versions (a new requirement adds only what it
    needs) unless `upgrade` re-resolves everything to the newest allowed versions."""
    image = load()[name]
    requirements = [*image["packages"], *image["common_packages"], *image.get("build_packages", [])]
    existing = ROOT / image["lock"]
    with tempfile.TemporaryDirectory() as tmp:
        requirements_in = Path(tmp) / "requirements.in"
        requirements_in.write_text("\n".join(requirements) + "\n")
        if image.get("torch"):
            # torch is installed first and separately; its own dependencies are locked here.
            requirements_in.write_text(requirements_in.read_text() + image["torch"] + "\n")
        report = Path(tmp) / "report.json"
        # Resolved for the image's Python (an interpreter of that version on this machine) and
        # platform: run it on Linux x86_64. Isolated from pip's configuration so no local index
        # or wheel sneaks in.
        command = [
            python_for(image["python"]),
            "-m",
            "pip",
            "--isolated",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(report),
            "-r",
            str(requirements_in),
        ]
        if existing.exists() and not upgrade:
            constraints = Path(tmp) / "constraints.txt"
            pins = re.findall(r"^([A-Za-z0-9_.\-]+==[^\s\\]+)", existing.read_text(), re.M)
            constraints.write_text("\n".join(pins) + "\n")
            command += ["--constraint", str(constraints)]
        if os.environ.get("PIP_CERT"):
            command += ["--cert", os.environ["PIP_CERT"]]
        if find_links:
            command += ["--find-links", find_links]
        # TORCH_INDEX_URL (even empty, as the Makefile passes it when a wheelhouse holds torch)
        # overrides the matrix: an unreachable index costs minutes of retries.
        torch_index = os.environ.get("TORCH_INDEX_URL", image.get("torch_index_url", ""))
        if torch_index:
            command += ["--extra-index-url", torch_index]
        subprocess.run(command, check=True)
        installs = json.loads(report.read_text())["install"]
    lines = [
        f"# Generated by `tools/matrix.py lock {name}` from images/matrix.toml: every package",
        "# the image installs besides torch and Coach, at an exact version, with the index's",
        "# sha256 of every Linux x86_64 file of that version.",
    ]
    items = [i for i in installs if i["metadata"]["name"].lower() != "torch"]
    with ThreadPoolExecutor(8) as pool:
        all_hashes = list(pool.map(_pypi_hashes, items))
    for item, hashes in sorted(
        zip(items, all_hashes, strict=True), key=lambda pair: pair[0]["metadata"]["name"].lower()
    ):
        meta = item["metadata"]
        line = f"{meta['name']}=={meta['version']}"
        line += "".join(f" \\\n    --hash=sha256:{digest}" for digest in hashes)
        lines.append(line)
    path = ROOT / image["lock"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {image['lock']} ({len(lines) - 2} packages)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the image matrix")
    commands = parser.add_subparsers(dest="command", required=True)
    names = commands.add_parser("names")
    names.add_argument("--built-here", action="store_true")
    get = commands.add_parser("get")
    get.add_argument("name")
    get.add_argument("field")
    gen = commands.add_parser("generate")
    gen.add_argument("--check", action="store_true")
    lk = commands.add_parser("lock")
    lk.add_argument("name")
    lk.add_argument("--find-links")
    lk.add_argument(
        "--upgrade", action="store_true", help="re-resolve every package, not just new ones"
    )
    args = parser.parse_args(argv)

    images = load()
    if args.command == "names":
        for image in images.values():
            if not args.built_here or image["built_here"]:
                print(image["name"])
        return 0
    if args.command == "get":
        if args.name not in images:
            print(f"unknown image {args.name!r}; images: {', '.join(images)}", file=sys.stderr)
            return 2
        image = images[args.name]
        value = {"tags": " ".join(tags(image)), "labels": json.dumps(labels(image))}.get(
            args.field, image.get(args.field, "")
        )
        print(str(value).lower() if isinstance(value, bool) else value)
        return 0
    if args.command == "generate":
        return generate(args.check)
    return lock(args.name, args.find_links, args.upgrade)


if __name__ == "__main__":
    sys.exit(main())
