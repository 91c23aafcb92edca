# -*- coding: utf-8 -*-
"""The collection tarball as Galaxy users get it.

``ansible-galaxy collection build`` packs whatever lies in the tree except galaxy.yml's ``build_ignore``. The test
builds from a copy of the tracked files with every local output a working tree collects (reports, caches, virtual
environments, build and test output, an earlier tarball) and asserts that the tarball holds the tracked files and
nothing else. It then installs the tarball into an empty collections path and, from a directory outside the
repository, runs ``ansible-doc`` on every module, filter and role the collection has.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import subprocess
import sys
import tarfile

import yaml

from tests.integration.support import ROOT

BIN = os.path.dirname(sys.executable)
NAMESPACE, NAME = "practiceprotect", "m365"
FQCN = "%s.%s" % (NAMESPACE, NAME)

# What a working tree collects besides its tracked files: (path, content). None is a directory.
LOCAL_OUTPUT = [
    ("reports/sync-20250106T070000Z.json", '{"roles": [{"added": ["jane.citizen@northwindacct.com"]}]}'),
    ("reports/latest.md", "# Role sync\n"),
    (".pytest_cache/v/cache/lastfailed", "{}"),
    (".build/collections/ansible_collections/.keep", ""),
    (".build/sanity/ansible_collections/practiceprotect/m365/galaxy.yml", ""),
    (".build/docs/index.html", "<html></html>"),
    ("tests/output/integration/run.log", "ok"),
    ("tests/output/secrets/gw0.jsonl", '{"secret": "s3cret"}'),
    (".venv/bin/python", ""),
    (".ansible/roles/.keep", ""),
    (".cache/molecule/.keep", ""),
    ("plugins/module_utils/__pycache__/_graph.cpython-311.pyc", ""),
    ("plugins/modules/m365_user.pyc", ""),
    ("changelogs/.plugin-cache.yaml", "plugins: {}\n"),
    ("practiceprotect-m365-0.0.9.tar.gz", ""),
]


def run(cmd, cwd, env=None):
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, "%s failed (rc %d):\n%s" % (" ".join(cmd), proc.returncode, proc.stdout[-4000:])
    return proc.stdout


def tracked_files():
    """The files of the working tree that git does not ignore (tracked, or new and not yet added)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, stdout=subprocess.PIPE, check=True).stdout.decode()
    return sorted(path for path in out.split("\0") if path and os.path.isfile(os.path.join(ROOT, path)))


def dirty_copy(target):
    """The tracked files of the repository under ``target``, plus every kind of local output."""
    for path in tracked_files():
        dest = os.path.join(target, path)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(os.path.join(ROOT, path), "rb") as src, open(dest, "wb") as out:
            out.write(src.read())
    for path, content in LOCAL_OUTPUT:
        dest = os.path.join(target, path)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "w") as out:
            out.write(content)


def plugin_names(kind):
    """The collection's plugins of one kind, from the tree: modules and filters (a filter file may define several,
    each documented in its own .yml)."""
    if kind == "module":
        return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py")))
    if kind == "filter":
        return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(ROOT, "plugins", "filter", "*.yml")))
    return sorted(os.path.basename(os.path.dirname(os.path.dirname(p)))
                  for p in glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")))


def test_the_tarball_holds_the_collection_and_nothing_a_working_tree_collects(tmp_path):
    source = tmp_path / "source"
    dirty_copy(str(source))
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        version = yaml.safe_load(handle)["version"]
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path / "dist"), str(source)],
        cwd=str(tmp_path))
    tarball = tmp_path / "dist" / ("%s-%s-%s.tar.gz" % (NAMESPACE, NAME, version))
    with tarfile.open(str(tarball)) as archive:
        packed = sorted(member.name for member in archive.getmembers() if member.isfile())
    ignored = (".venv/", ".build/", ".ci/")
    expected = sorted(path for path in tracked_files() if path != "galaxy.yml" and not path.startswith(ignored))
    expected += ["FILES.json", "MANIFEST.json"]
    extra = sorted(set(packed) - set(expected))
    missing = sorted(set(expected) - set(packed))
    assert extra == [], "local output in the tarball: %s" % extra
    assert missing == [], "tracked files missing from the tarball: %s" % missing
    assert "LICENSE" in packed and "GNU GENERAL PUBLIC LICENSE" in open(os.path.join(ROOT, "LICENSE")).read(2000)

    # Installed into an empty collections path, the docs of every plugin load from outside the repository.
    collections = tmp_path / "collections"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("ANSIBLE_"))
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(collections), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
                "ANSIBLE_NOCOLOR": "1", "HOME": str(tmp_path / "home")})
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "-p", str(collections), str(tarball)],
        cwd=str(outside), env=env)
    installed = collections / "ansible_collections" / NAMESPACE / NAME
    assert (installed / "MANIFEST.json").is_file() and not (installed / "reports").exists()
    for kind in ("module", "filter", "role"):
        names = plugin_names(kind)
        assert names, "no %s found in the tree" % kind
        listed = json.loads(run([os.path.join(BIN, "ansible-doc"), "-t", kind, "--list", "--json", FQCN], cwd=str(outside), env=env))
        assert sorted(name.split(".")[-1] for name in listed) == names
        docs = json.loads(run([os.path.join(BIN, "ansible-doc"), "-t", kind, "--json"] + ["%s.%s" % (FQCN, n) for n in names],
                              cwd=str(outside), env=env))
        assert sorted(name.split(".")[-1] for name in docs) == names
        for name, doc in docs.items():
            assert doc.get("doc") or doc.get("entry_points"), "ansible-doc found no documentation for %s %s" % (kind, name)
            if kind == "module":
                path = doc["doc"]["filename"]
                assert path.startswith(str(installed)), "%s was documented from %s, not the installed collection" % (name, path)
