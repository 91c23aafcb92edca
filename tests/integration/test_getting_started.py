# -*- coding: utf-8 -*-
"""docs/getting-started.md's rehearsal, as a new user types it: every shell block marked ``<!-- rehearsal -->``, in
order, in one bash session, against a sandbox of the tests (the sandbox.env the guide sources is the one this sandbox
wrote). The run must succeed, the service account must come before the joiners, the second onboarding must change
nothing, and what the control API commands print must show the joiners, the activation mail and the writes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import subprocess

from tests.integration.support import ROOT

GUIDE = os.path.join(ROOT, "docs", "getting-started.md")


def rehearsal_blocks():
    with open(GUIDE) as handle:
        return re.findall(r"<!-- rehearsal -->\n```sh\n(.*?)```", handle.read(), re.S)


def test_the_rehearsal_runs_as_written(sandbox, tmp_path):
    blocks = rehearsal_blocks()
    assert len(blocks) >= 5
    script = "set -euo pipefail\n" + "\n".join(blocks).replace(".build/sandbox/sandbox.env", os.path.join(sandbox.state_dir, "sandbox.env"))
    assert "service_account.yml" in blocks[1] and "onboard.yml" in blocks[2], "the service account comes before the joiners"
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "M365_", "PP_", "SANDBOX_")))
    env.update({"HOME": str(tmp_path), "ANSIBLE_NOCOLOR": "1"})
    proc = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=900, check=False)
    with open(os.path.join(ROOT, "tests", "output", "integration", "getting-started.log"), "w") as out:
        out.write(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-4000:]
    recaps = re.split(r"^PLAY RECAP \*+$", proc.stdout, flags=re.M)
    assert len(recaps) == 6  # service account, preview, onboarding twice, offboarding
    third_onboarding = recaps[4].split("\n\n")[0]
    assert re.findall(r"changed=(\d+)", third_onboarding) and set(re.findall(r"changed=(\d+)", third_onboarding)) == {"0"}
    assert "jane.citizen@northwindacct.com True" in proc.stdout  # a joiner, enabled
    assert re.search(r"^\S.* -> \[", proc.stdout, re.M)  # an activation mail
    assert re.search(r"^\d+ graph POST /v1.0/users$", proc.stdout, re.M)  # a write from the log
