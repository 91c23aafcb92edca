# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/tools/docs_site.py: the guides' links in the rendered site, and the local inventory of Ansible docsite labels."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import zlib

from tests.tools import docs_site

NAMES = {"README.md": "overview", "docs/awx.md": "awx", "docs/permissions.md": "permissions"}
BASE = "https://github.com/practiceprotect/m365/blob/main/"


def test_links_between_guides_stay_links_between_guides():
    text = "See [permissions](permissions.md#exchange-online) and [AWX](awx.md)."
    assert docs_site.rewrite(text, "docs/getting-started.md", NAMES, BASE) == (
        "See [permissions](permissions.md#exchange-online) and [AWX](awx.md).")
    assert docs_site.rewrite("[AWX](docs/awx.md)", "README.md", NAMES, BASE) == "[AWX](awx.md)"


def test_links_to_other_files_point_at_the_repository():
    text = "[the EE](awx/execution-environment.yml), [bindep](../bindep.txt), [licence](LICENSE)"
    assert docs_site.rewrite(text, "docs/awx.md", NAMES, BASE) == (
        "[the EE](%sdocs/awx/execution-environment.yml), [bindep](%sbindep.txt), [licence](%sdocs/LICENSE)" % (BASE, BASE, BASE))
    assert docs_site.rewrite("[licence](LICENSE)", "README.md", NAMES, BASE) == "[licence](%sLICENSE)" % BASE


def test_anchors_and_urls_are_left_alone():
    text = "[here](#reproduce) [msal](https://learn.microsoft.com/x) [mail](mailto:a@b.c)"
    assert docs_site.rewrite(text, "docs/awx.md", NAMES, BASE) == text


def test_every_guide_is_in_the_site():
    names = docs_site.guides()
    assert names["README.md"] == "overview" and names["docs/getting-started.md"] == "getting-started"
    assert all(path == "README.md" or path.startswith("docs/") for path in names)
    with open(docs_site.ROOT + "/docs/docsite/index.rst") as handle:
        index = handle.read()
    assert sorted("guides/" + name for name in names.values()) == sorted(line.strip() for line in index.splitlines()
                                                                         if line.strip().startswith("guides/"))


def test_the_inventory_is_a_sphinx_inventory_of_the_labels(tmp_path):
    path = tmp_path / "ansible_devel.inv"
    docs_site.write_inventory(str(path))
    data = path.read_bytes()
    header = b"# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n# The remainder of this file is compressed using zlib.\n"
    assert data.startswith(header)
    entries = zlib.decompress(data[len(header):]).decode().splitlines()
    assert entries == ["%s std:label -1 %s %s" % (label, uri, title) for label, (uri, title) in sorted(docs_site.ANSIBLE_LABELS.items())]
