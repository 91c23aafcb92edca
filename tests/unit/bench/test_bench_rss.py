"""tests/bench/rss.py: the peak RSS of a process tree."""

import subprocess
import sys
import time

from tests.bench import rss

# A parent that starts a child holding 80 MB for a moment: the child is the largest process of the tree.
TREE = ("import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; block = bytearray(80 * 1024 * 1024); time.sleep(1.5)'])\n"
        "child.wait()\n")


def test_peaks_keeps_the_largest_process_and_the_largest_total():
    peaks = rss.Peaks()
    assert peaks.peak is None
    peaks.add([(1, "ansible-playbook", 60), (2, "python", 10)])
    peaks.add([(1, "ansible-playbook", 50), (2, "python", 90), (3, "python", 5)])
    peaks.add([])
    assert peaks.peak == {"pid": 2, "name": "python", "rss": 90}
    assert peaks.total == 145
    assert peaks.samples == 3


def test_sampler_sees_a_child_of_the_process_it_watches():
    process = subprocess.Popen([sys.executable, "-c", TREE])
    sampler = rss.RssSampler(process.pid, interval=0.05).start()
    process.wait()
    sampler.stop()
    assert sampler.samples >= 5
    assert sampler.peak["rss"] >= 80 * 1024 * 1024
    assert sampler.peak["pid"] != process.pid           # the child, not the parent
    assert sampler.peak["name"].startswith("python")
    assert sampler.total >= sampler.peak["rss"]
    assert rss.megabytes(sampler.peak["rss"]) >= 80.0


def test_labels_name_the_script_of_an_interpreter():
    assert rss.label(["/venv/bin/python", "/venv/bin/ansible-playbook", "-i", "hosts.yml"], "ansible-playboo") == "ansible-playbook"
    assert rss.label(["/venv/bin/python3.11", "/tmp/ansible-tmp-1/AnsiballZ_m365_user.py"], "python") == "AnsiballZ_m365_user.py"
    assert rss.label(["/venv/bin/python", "-m", "tests.sandbox"], "python") == "python"
    assert rss.label(["/usr/bin/ssh", "host"], "ssh") == "ssh"
    assert rss.label([], "kworker/0:1") == "kworker/0:1"


def test_tree_of_a_finished_process_is_empty():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    time.sleep(0.05)
    assert rss.tree(process.pid) == []
