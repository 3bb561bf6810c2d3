"""The Lambda asset, bundled without Docker: the pinned runtime dependencies installed for
Lambda's platform (manylinux x86_64, CPython 3.12) by pip, plus the `storyimages` package.

The asset hash is the hash of the lock file and the package's sources, so an unchanged
function is not uploaded again and bundling runs only when something changed."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "functions" / "storyimages"
LOCK = ROOT / "requirements" / "lambda.lock"
PLATFORM_FLAGS = (
    "--platform",
    "manylinux2014_x86_64",
    "--platform",
    "manylinux_2_28_x86_64",
    "--implementation",
    "cp",
    "--python-version",
    "3.12",
    "--only-binary=:all:",
)


def source_hash() -> str:
    digest = hashlib.sha256(LOCK.read_bytes())
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: Any) -> bool:
        target = Path(output_dir)
        subprocess.run(  # noqa: S603 (fixed arguments, our own lock file)
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-qq",  # pip still warns at -q about this machine's extra indexes
                "--disable-pip-version-check",
                "--no-compile",
                "--target",
                str(target),
                *PLATFORM_FLAGS,
                "-r",
                str(LOCK),
            ],
            check=True,
        )
        shutil.copytree(PACKAGE, target / "storyimages", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        return True


def lambda_code() -> lambda_.Code:
    """One asset for every function: one package, each Lambda importing only its handler's needs."""
    return lambda_.Code.from_asset(
        str(PACKAGE.parent),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=source_hash(),
        bundling=BundlingOptions(
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
            local=PipLocalBundling(),
            command=["bash", "-c", "echo 'bundled locally; Docker is not used'"],
        ),
    )
