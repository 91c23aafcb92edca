# -*- coding: utf-8 -*-
"""``make docs``: the rendered site builds without a single warning (Sphinx runs with -W) and holds a page for every
module, filter, role and guide, with the guides' links working in the site."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import subprocess

from tests.integration.support import ROOT
from tests.tools import docs_site

SITE = os.path.join(ROOT, ".build", "docs")


def names(pattern, strip):
    return sorted(os.path.basename(p)[:-len(strip)] for p in glob.glob(os.path.join(ROOT, pattern)))


def test_make_docs_builds_the_site_without_warnings():
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("MAKE"))
    proc = subprocess.run(["make", "--no-print-directory", "docs"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "WARNING" not in proc.stdout and "ERROR" not in proc.stdout, proc.stdout[-4000:]
    pages = set(os.path.relpath(p, SITE) for p in glob.glob(os.path.join(SITE, "**", "*.html"), recursive=True))
    expected = {"index.html", "collection/index.html"}
    expected |= {"collection/%s_module.html" % name for name in names("plugins/modules/*.py", ".py")}
    expected |= {"collection/%s_filter.html" % name for name in names("plugins/filter/*.yml", ".yml")}
    expected |= {"collection/%s_role.html" % os.path.basename(os.path.dirname(os.path.dirname(p)))
                 for p in glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml"))}
    expected |= {"guides/%s.html" % name for name in docs_site.guides().values()}
    assert sorted(expected - pages) == []
    with open(os.path.join(SITE, "guides", "awx.html")) as handle:
        awx = handle.read()
    assert 'href="permissions.html' in awx or 'href="getting-started.html' in awx
    assert docs_site.blob_url() + "docs/awx/execution-environment.yml" in awx
