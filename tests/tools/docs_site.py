# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guides of the rendered docs site (``make docs``).

antsibull-docs renders the modules, filters and roles; the guides are the repository's Markdown (README.md and
docs/*.md), which Sphinx reads with MyST. This copies them into the Sphinx source tree, keeping links between guides
(and their anchors) and pointing every other link into the repository (a playbook, the inventory, a file of
docs/awx) at its page on the repository's host, and finishes the conf.py that ``antsibull-docs sphinx-init`` wrote:
MyST for the guides, and no inventories fetched from other sites.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import glob
import os
import posixpath
import re
import sys
import zlib

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINK = re.compile(r"(\]\()([^)\s]+)(\))")
CONF = """
# Added by tests/tools/docs_site.py: the guides are Markdown; the build reaches no other site (the Ansible docsite's
# labels that the generated pages use come from a local inventory).
extensions.append("myst_parser")
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_heading_anchors = 4
intersphinx_mapping = {"ansible_devel": ("https://docs.ansible.com/projects/ansible/devel/", %r)}
"""
# The labels of the Ansible docsite that antsibull-docs' pages refer to: label -> (page and anchor, title). A module
# page that refers to another one fails the build (undefined label) until it is added here.
ANSIBLE_LABELS = {
    "ansible_configuration_settings": ("reference_appendices/config.html#ansible-configuration-settings",
                                       "Ansible Configuration Settings"),
    "common_return_values": ("reference_appendices/common_return_values.html#common-return-values", "Return Values"),
}


def write_inventory(path):
    """A Sphinx (intersphinx) inventory, version 2, of ANSIBLE_LABELS."""
    lines = "".join("%s std:label -1 %s %s\n" % (label, uri, title) for label, (uri, title) in sorted(ANSIBLE_LABELS.items()))
    with open(path, "wb") as out:
        out.write(b"# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n"
                  b"# The remainder of this file is compressed using zlib.\n")
        out.write(zlib.compress(lines.encode("utf-8")))


def guides():
    """{repository path: name in the site}: README.md is the overview, docs/<name>.md the guide <name>."""
    found = {"README.md": "overview"}
    for path in sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))):
        found["docs/" + os.path.basename(path)] = os.path.splitext(os.path.basename(path))[0]
    return found


def blob_url():
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        return yaml.safe_load(handle)["repository"].rstrip("/") + "/blob/main/"


def rewrite(text, source, names, base):
    """``text`` of the guide at repository path ``source`` with its links made to work in the site."""

    def link(match):
        target = match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            return match.group(0)
        path, _sep, anchor = target.partition("#")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
        if resolved in names:
            return "%s%s.md%s%s" % (match.group(1), names[resolved], "#" + anchor if anchor else "", match.group(3))
        return "%s%s%s%s" % (match.group(1), base + resolved, "#" + anchor if anchor else "", match.group(3))

    return LINK.sub(link, text)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.tools.docs_site", description=__doc__.split("\n", 1)[0])
    parser.add_argument("source", help="the Sphinx source tree of antsibull-docs sphinx-init (holds conf.py and rst/)")
    args = parser.parse_args(argv)
    names = guides()
    base = blob_url()
    out_dir = os.path.join(args.source, "rst", "guides")
    os.makedirs(out_dir, exist_ok=True)
    for source, name in names.items():
        with open(os.path.join(ROOT, source)) as handle:
            text = handle.read()
        with open(os.path.join(out_dir, name + ".md"), "w") as out:
            out.write(rewrite(text, source, names, base))
    inventory = os.path.abspath(os.path.join(args.source, "ansible_devel.inv"))
    write_inventory(inventory)
    with open(os.path.join(args.source, "conf.py"), "a") as conf:
        conf.write(CONF % inventory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
