"""The Dockerfile: what hadolint does not check, and hadolint itself.

No Docker engine is needed. The tests read the Dockerfile's instructions and check the
pins against constraints.txt and the installed metadata. One opt-in test runs the build
stage's own RUN lines in a temp dir (it needs PyPI, so it runs only with
``TENANT_OPERATOR_IMAGE_INSTALL=1``).
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tenant_operator.cli import build_parser
from tenant_operator.settings import Settings

ROOT = Path(__file__).parents[2]
DOCKERFILE = ROOT / "Dockerfile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
HADOLINT = Path(sys.executable).parent / "hadolint"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    found: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, args = pending.strip().partition(" ")
        found.append(Instruction(keyword.upper(), " ".join(args.split())))
        pending = ""
    return found


def stages() -> list[list[Instruction]]:
    """The instructions of each stage, from its FROM on."""
    result: list[list[Instruction]] = []
    for ins in instructions(DOCKERFILE.read_text()):
        if ins.keyword == "FROM":
            result.append([])
        if result:
            result[-1].append(ins)
    return result


def global_args() -> dict[str, str]:
    found = {}
    for ins in instructions(DOCKERFILE.read_text()):
        if ins.keyword == "FROM":
            break
        if ins.keyword == "ARG" and "=" in ins.args:
            name, _, value = ins.args.partition("=")
            found[name] = value
    return found


def base_image(stage: list[Instruction]) -> str:
    image = stage[0].args.split()[0]
    for name, value in global_args().items():
        image = image.replace(f"${{{name}}}", value).replace(f"${name}", value)
    return image


def one(stage: list[Instruction], keyword: str) -> str:
    found = [ins.args for ins in stage if ins.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword} in the stage, found {found}"
    return found[0]


def runs(stage: list[Instruction]) -> list[str]:
    return [ins.args for ins in stage if ins.keyword == "RUN"]


def constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"constraints.txt: {line!r} is not pinned with =="
            pins[canonicalize_name(name)] = version
    return pins


def runtime_requirements() -> list[Requirement]:
    project = PYPROJECT["project"]
    return [
        Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["image"]
    ]


def test_base_image_is_pinned_by_version_and_matches_the_project_python() -> None:
    python = PYPROJECT["tool"]["mypy"]["python_version"]
    for stage in stages():
        image = base_image(stage)
        match = re.fullmatch(r"python:(\d+\.\d+)\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", image)
        assert match, f"base image {image!r} is not pinned to a python:X.Y.Z-slim-<debian> tag"
        assert match[1] == python, f"base image {image} is not Python {python}"
    # The virtualenv links to the base image's interpreter: both stages need the same one.
    assert len({base_image(stage) for stage in stages()}) == 1


def test_final_stage_runs_as_a_numeric_non_root_user_with_a_passwd_entry() -> None:
    final = stages()[-1]
    user = one(final, "USER")
    match = re.fullmatch(r"(\d+)(?::(\d+))?", user)
    assert match, f"USER {user} is not numeric (kubelet's runAsNonRoot needs a number)"
    assert int(match[1]) != 0 and int(match[2] or 1) != 0
    # kopf's peering identity calls getpass.getuser(), which needs a passwd entry.
    assert any(f"useradd --uid {match[1]} " in run for run in runs(final)), runs(final)
    # USER comes after every RUN: nothing runs as root after it, nothing as it before.
    keywords = [ins.keyword for ins in final]
    assert max(i for i, k in enumerate(keywords) if k == "RUN") < keywords.index("USER")


def test_entrypoint_runs_tenant_operator_run() -> None:
    final = stages()[-1]
    assert json.loads(one(final, "ENTRYPOINT")) == ["tenant-operator"]
    assert json.loads(one(final, "CMD")) == ["run"]
    assert "tenant-operator" in PYPROJECT["project"]["scripts"]
    assert build_parser().parse_args(["run"]).command == "run"


def test_final_stage_copies_only_the_virtualenv_and_never_writes_bytecode() -> None:
    final = stages()[-1]
    copies = [ins.args for ins in final if ins.keyword in {"COPY", "ADD"}]
    assert copies == ["--from=build /opt/venv /opt/venv"]
    env = " ".join(ins.args for ins in final if ins.keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "PYTHONUNBUFFERED=1" in env
    assert "PATH=/opt/venv/bin:" in env


def test_exposed_ports_are_the_settings_defaults() -> None:
    settings = Settings()
    exposed = set(one(stages()[-1], "EXPOSE").split())
    assert exposed == {str(settings.liveness_port), str(settings.metrics_port)}


def test_runtime_dependencies_come_from_the_lock() -> None:
    build = stages()[0]
    installs = [run for run in runs(build) if " install " in run]
    assert len(installs) == 2, installs
    deps, package = installs
    assert "-c constraints.txt" in deps and "-r requirements.txt" in deps
    assert '["dependencies"]' in deps and '["optional-dependencies"]["image"]' in deps
    assert "--no-deps ." in package and "-c constraints.txt" not in package
    # The Dockerfile copies only what the .dockerignore allowlist lets in.
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for ins in build:
        if ins.keyword == "COPY":
            sources = shlex.split(ins.args)[:-1]
            assert {s.rstrip("/") for s in sources} <= allowed, ins


def test_every_runtime_dependency_is_pinned_and_the_pins_resolve() -> None:
    """The image install is reproducible: the whole runtime closure is in constraints.txt.

    Walks the installed metadata (the dev virtualenv is installed from the same
    constraints) from pyproject's runtime dependencies and the ``image`` extra, and checks
    every package on the way is pinned and that every pin satisfies every requirement on
    it: what pip's resolver checks, without the network.
    """
    pins = constraints()
    assert "psycopg-binary" in pins, "the image's psycopg[binary] needs psycopg-binary pinned"
    todo = [(req, "pyproject.toml") for req in runtime_requirements()]
    seen: set[str] = set()
    while todo:
        req, wanted_by = todo.pop()
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} (needed by {wanted_by}) is not in constraints.txt"
        assert Version(pins[name]) in req.specifier, (
            f"constraints.txt pins {name}=={pins[name]}, but {wanted_by} needs {req}"
        )
        assert metadata.version(req.name) == pins[name], f"{name}: reinstall the venv"
        for extra in req.extras:
            todo += [
                (dep, f"{name}[{extra}]")
                for dep in map(Requirement, metadata.requires(req.name) or [])
                if dep.marker is not None and dep.marker.evaluate({"extra": extra})
            ]
        if name in seen:
            continue
        seen.add(name)
        todo += [
            (dep, name)
            for dep in map(Requirement, metadata.requires(req.name) or [])
            if dep.marker is None or dep.marker.evaluate({"extra": ""})
        ]
    assert {"kopf", "psycopg", "psycopg-binary", "psycopg-pool", "hvac"} <= seen


def test_hadolint_passes() -> None:
    assert HADOLINT.exists(), f"{HADOLINT} is missing: install the dev extra (`make venv`)"
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(
    os.environ.get("TENANT_OPERATOR_IMAGE_INSTALL") != "1",
    reason="downloads the runtime dependencies from PyPI: set TENANT_OPERATOR_IMAGE_INSTALL=1",
)
def test_build_stage_install_commands_work(tmp_path: Path) -> None:
    """Run the build stage's own COPY and RUN lines, with /opt/venv moved under tmp_path.

    ``python`` and ``pip`` are this interpreter's (Python 3.11, as the image's).
    """
    workdir, venv = tmp_path / "src", tmp_path / "venv"
    workdir.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for ins in stages()[0]:
        if ins.keyword == "COPY":
            for source in shlex.split(ins.args)[:-1]:
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, workdir / source, ignore=ignore)
                else:
                    shutil.copy(ROOT / source, workdir)
        elif ins.keyword == "RUN":
            command = ins.args.replace("/opt/venv", str(venv))
            subprocess.run(["sh", "-ec", command], cwd=workdir, env=env, check=True)
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin/python"),
            "list",
            "--format=json",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pins = constraints()
    installed = {canonicalize_name(p["name"]): p["version"] for p in json.loads(listed)}
    assert installed.pop("tenant-operator") == PYPROJECT["project"]["version"]
    assert installed.items() <= pins.items(), "the image would install an unpinned version"
    assert not {"pip", "setuptools", "wheel"} & installed.keys()
