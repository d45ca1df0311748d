"""The interoperability tests need outside tools; a missing one must never pass silently.

In CI (CI=true) a missing ``age`` or ``node`` fails the run and names the Debian
package to install; on a developer's machine the interop tests are skipped with
the same message.
"""

import os
from pathlib import Path

import pytest


def test_a_ci_run_without_the_age_tool_fails_and_names_the_debian_package(
    tool_finder, monkeypatch, tmp_path
):
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine where age is not installed
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception) as failure:
        tool_finder("age", "age")

    assert "Debian package `age`" in str(failure.value)


def test_a_ci_run_without_node_fails_and_names_the_debian_package(
    tool_finder, monkeypatch, tmp_path
):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception) as failure:
        tool_finder("node", "nodejs")

    assert "Debian package `nodejs`" in str(failure.value)


def test_a_developer_without_the_age_tool_gets_a_skip_naming_the_package(
    tool_finder, monkeypatch, tmp_path
):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception) as skip:
        tool_finder("age", "age")

    assert "Debian package `age`" in str(skip.value)


def test_an_installed_tool_is_found_on_the_path(tool_finder, monkeypatch, tmp_path):
    tool = tmp_path / "age"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")

    assert Path(tool_finder("age", "age")) == tool


def test_the_real_tools_are_there(age_tool, agejs):
    """The fixtures every interop test relies on resolve to executables."""
    assert os.access(age_tool.age, os.X_OK)
    assert os.access(age_tool.keygen, os.X_OK)
    assert os.access(agejs.node, os.X_OK)
