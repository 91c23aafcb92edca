# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for the pip bootstrap script that ansible-test downloads from its own file server.

ansible-test creates an empty virtual environment for some sanity tests and bootstraps pip in it
with a script fetched from outside the package registries. Where only the registries are
reachable, this script does the same job: the pip bundled with Python (ensurepip), then
``pip install --upgrade`` with the arguments ansible-test passes (the pinned pip and friends, from
the package index). ``make sanity`` copies it into ansible-test's cache when it is missing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ensurepip
import importlib
import os
import runpy
import sys


def main():
    ensurepip.bootstrap(upgrade=True)
    # ensurepip points pip at an empty configuration; the real install must see the machine's
    # pip configuration (index, certificate authority).
    os.environ.pop("PIP_CONFIG_FILE", None)
    importlib.invalidate_caches()
    # --no-setuptools and --no-wheel are options of the bootstrap script, not of pip.
    args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
    sys.argv = [sys.argv[0], "install", "--upgrade"] + args
    runpy.run_module("pip", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
