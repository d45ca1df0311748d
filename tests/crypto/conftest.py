"""Fixtures for the age library's test suite.

Everything here works through the public surface: the ``crypto`` package and
``python -m crypto`` run as a real subprocess. The two outside implementations
(the ``age`` tool from Debian and the npm package ``age-encryption`` driven by
``tests/interop/agejs.mjs``) are found, or installed, by the fixtures below.
"""

import hashlib
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

import crypto

REPO_ROOT = Path(__file__).resolve().parents[2]
INTEROP_DIR = REPO_ROOT / "tests" / "interop"
AGEJS = INTEROP_DIR / "agejs.mjs"

MiB = 1024 * 1024


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def find_tool(name: str, debian_package: str) -> str:
    """Return the path of ``name``; fail in CI, skip elsewhere, if it is missing."""
    path = shutil.which(name)
    if path:
        return path
    message = (
        f"`{name}` was not found on PATH: install the Debian package "
        f"`{debian_package}` (apt-get install {debian_package})"
    )
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture
def tool_finder():
    """The function the interop fixtures use to find an outside tool."""
    return find_tool


# --- payloads -----------------------------------------------------------------


def payload_of(size: int, seed: int = 0) -> bytes:
    """Deterministic pseudo-random bytes, so a failure can be reproduced."""
    blocks = []
    counter = 0
    while sum(map(len, blocks)) < size:
        blocks.append(hashlib.shake_256(f"{seed}:{counter}".encode()).digest(MiB))
        counter += 1
    return b"".join(blocks)[:size]


@pytest.fixture(scope="session")
def payloads():
    cache = {}

    def get(size: int) -> bytes:
        if size not in cache:
            cache[size] = payload_of(size, seed=size)
        return cache[size]

    return get


# --- errors -------------------------------------------------------------------


@contextmanager
def _raises_exactly(error_class, match=None):
    with pytest.raises(error_class, match=match) as info:
        yield info
    assert info.type is error_class, (
        f"expected exactly {error_class.__name__}, got {info.type.__name__}: {info.value}"
    )


@pytest.fixture(scope="session")
def raises_exactly():
    """Like ``pytest.raises``, but a subclass of the expected error does not count."""
    return _raises_exactly


# --- the command line ---------------------------------------------------------


def _cli_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="session")
def cli():
    """Run ``python -m crypto ARGS`` as a subprocess; return the CompletedProcess."""

    def run(*args, input=b"", cwd=None, check=False):
        result = subprocess.run(
            [sys.executable, "-m", "crypto", *map(str, args)],
            input=input,
            capture_output=True,
            cwd=cwd,
            env=_cli_env(),
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"python -m crypto {' '.join(map(str, args))} exited {result.returncode}: "
                f"{result.stderr.decode(errors='replace')}"
            )
        return result

    return run


# --- keys written to disk -----------------------------------------------------


@pytest.fixture
def write_identity(tmp_path):
    """Write identities to an identity file the way age-keygen would; return its path."""
    counter = iter(range(1_000_000))

    def write(*identities, name=None):
        path = tmp_path / (name or f"identity-{next(counter)}.txt")
        lines = []
        for identity in identities:
            lines.append(f"# public key: {identity.recipient}")
            lines.append(str(identity))
        path.write_text("\n".join(lines) + "\n")
        return path

    return write


# --- the standard age tool ----------------------------------------------------


class AgeTool:
    """The Debian ``age`` 1.1.1 binaries."""

    def __init__(self, age: str, keygen: str):
        self.age = age
        self.keygen = keygen

    def run(self, *args, input=b"", check=True):
        result = subprocess.run(
            [self.age, *map(str, args)], input=input, capture_output=True, timeout=120
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"age {' '.join(map(str, args))} exited {result.returncode}: "
                f"{result.stderr.decode(errors='replace')}"
            )
        return result

    def encrypt(self, data: bytes, recipients, armor=False) -> bytes:
        args = ["-e"] + (["-a"] if armor else [])
        for recipient in recipients:
            args += ["-r", str(recipient)]
        return self.run(*args, input=data).stdout

    def decrypt(self, data: bytes, identity_file) -> bytes:
        return self.run("-d", "-i", identity_file, input=data).stdout

    def new_identity(self, path: Path) -> str:
        """age-keygen a fresh identity into ``path``; return its recipient."""
        subprocess.run([self.keygen, "-o", str(path)], check=True, capture_output=True)
        return subprocess.run(
            [self.keygen, "-y", str(path)], check=True, capture_output=True, text=True
        ).stdout.strip()


@pytest.fixture(scope="session")
def age_tool():
    return AgeTool(find_tool("age", "age"), find_tool("age-keygen", "age"))


@pytest.fixture(scope="session")
def age_keypair(age_tool, tmp_path_factory):
    """An identity made by age-keygen: (identity file, recipient string)."""
    path = tmp_path_factory.mktemp("age-keygen") / "key.txt"
    recipient = age_tool.new_identity(path)
    return path, recipient


# --- the npm package age-encryption (typage) ----------------------------------


class AgeJS:
    """tests/interop/agejs.mjs: an independent implementation with post-quantum keys."""

    def __init__(self, node: str):
        self.node = node

    def run(self, *args, input=b""):
        result = subprocess.run(
            [self.node, str(AGEJS), *map(str, args)],
            input=input,
            capture_output=True,
            cwd=INTEROP_DIR,
            timeout=120,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"agejs {args[0]} exited {result.returncode}: "
                f"{result.stderr.decode(errors='replace')}"
            )
        return result.stdout

    def keygen_pq(self) -> tuple[str, str]:
        identity, recipient = self.run("keygen-pq").decode().split()
        return identity, recipient

    def encrypt(self, data: bytes, recipients, armor=False) -> bytes:
        flags = ["--armor"] if armor else []
        return self.run("encrypt", *flags, *map(str, recipients), input=data)

    def decrypt(self, data: bytes, identities) -> bytes:
        return self.run("decrypt", *map(str, identities), input=data)


@pytest.fixture(scope="session")
def interop_node_modules():
    """Install the pinned npm packages of tests/interop unless they are there already."""
    node_modules = INTEROP_DIR / "node_modules"
    if (node_modules / "age-encryption" / "package.json").is_file():
        return node_modules
    npm = find_tool("npm", "npm")
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=INTEROP_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0 or not node_modules.is_dir():
        pytest.fail(
            f"`npm ci` in {INTEROP_DIR} failed ({result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}",
            pytrace=False,
        )
    return node_modules


@pytest.fixture(scope="session")
def agejs(interop_node_modules):
    return AgeJS(find_tool("node", "nodejs"))


# --- identities shared by many tests ------------------------------------------


@pytest.fixture(scope="session")
def alice():
    return crypto.X25519Identity.generate()


@pytest.fixture(scope="session")
def bob():
    return crypto.X25519Identity.generate()


@pytest.fixture(scope="session")
def carol():
    return crypto.X25519Identity.generate()
