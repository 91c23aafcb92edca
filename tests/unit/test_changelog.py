# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release notes of the first release, rendered by antsibull-changelog from the fragments as a release would:
the collection's name as title, a summary, every module, filter and role listed as new, and nothing that speaks of
changes or fixes to a version nobody had."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
# Roles whose argument specs do not carry version_added yet, so that the release cannot list them as new. Each must
# leave this set when its meta/argument_specs.yml gains version_added (the last test says when).
PENDING_ROLES = set()


def version():
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        return yaml.safe_load(handle)["version"]


def names(pattern):
    return sorted(os.path.basename(os.path.splitext(path)[0]) for path in glob.glob(os.path.join(ROOT, pattern)))


def roles():
    return sorted(os.path.basename(os.path.dirname(os.path.dirname(path)))
                  for path in glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")))


def role_version_added(role):
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"].get("version_added")


@pytest.fixture(scope="module")
def notes(tmp_path_factory):
    """CHANGELOG.rst of a release of this version, made in a copy of the collection's files."""
    base = tmp_path_factory.mktemp("release")
    copy = base / "ansible_collections" / "practiceprotect" / "m365"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, stdout=subprocess.PIPE,
                           check=True).stdout.decode().split("\0")
    for path in files:
        if path and os.path.isfile(os.path.join(ROOT, path)):
            (copy / path).parent.mkdir(parents=True, exist_ok=True)
            (copy / path).write_bytes(open(os.path.join(ROOT, path), "rb").read())
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_COLLECTIONS_PATH=str(base),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")
    subprocess.run([os.path.join(BIN, "antsibull-changelog"), "release", "--version", version(), "--date", "2026-12-07"],
                   cwd=str(copy), env=env, check=True, timeout=300, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return (copy / "CHANGELOG.rst").read_text()


def section(notes, title):
    match = re.search(r"^%s\n-+\n(.*?)(?=^\S[^\n]*\n[-=]+\n|\Z)" % re.escape(title), notes, re.M | re.S)
    return match.group(1) if match else None


def listed(text):
    return sorted(re.findall(r"^- practiceprotect\.m365\.(\w+) - ", text or "", re.M))


def test_the_notes_read_like_a_first_release(notes):
    assert notes.startswith("==================================\npracticeprotect.m365 Release Notes\n")
    headings = re.findall(r"^(\S[^\n]*)\n-+$", notes, re.M)
    assert headings[0] == "Release Summary" and section(notes, "Release Summary").strip().startswith("First release.")
    assert not {"Bugfixes", "Minor Changes", "Major Changes", "Breaking Changes / Porting Guide", "Deprecated Features",
                "Removed Features (previously deprecated)"} & set(headings), headings
    for word in ("sandbox -", "Sandbox -", "molecule", "Molecule", "make bench", "make test", "used to", "no longer"):
        assert word not in notes, "the release notes speak of %r: keep it in a trivial fragment" % word


def test_everything_the_collection_has_is_listed_as_new(notes):
    assert listed(section(notes, "New Modules")) == names("plugins/modules/*.py")
    assert listed(section(notes, "New Plugins")) == names("plugins/filter/*.yml")
    assert listed(section(notes, "New Roles")) == sorted(set(roles()) - PENDING_ROLES)


def test_pending_roles_are_still_pending():
    assert PENDING_ROLES <= set(roles())
    for role in sorted(PENDING_ROLES):
        assert role_version_added(role) is None, "%s has version_added now: take it out of PENDING_ROLES" % role
    for role in sorted(set(roles()) - PENDING_ROLES):
        assert str(role_version_added(role)) == version()
