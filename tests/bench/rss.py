"""Peak resident memory of a process tree (ansible-playbook, its forks and the modules they start), sampled with psutil.

    sampler = RssSampler(process.pid).start()
    ...  # the process runs
    sampler.stop()
    sampler.peak  -> {"pid", "name", "rss"} of the largest single process seen, rss in bytes
"""

import os
import threading

import psutil


def label(cmdline, name):
    """A readable name for a process: the script a Python interpreter runs (ansible-playbook, AnsiballZ_m365_user.py), else
    the program, else psutil's name (which the kernel cuts at 15 characters)."""
    if cmdline:
        program = os.path.basename(cmdline[0])
        if program.startswith("python") and len(cmdline) > 1 and not cmdline[1].startswith("-"):
            return os.path.basename(cmdline[1])
        return program
    return name


def tree(pid, names=None):
    """[(pid, name, rss bytes)] of a process and all its descendants alive now ([] if it is gone). ``names`` caches labels by pid."""
    names = {} if names is None else names
    try:
        root = psutil.Process(pid)
        processes = [root] + root.children(recursive=True)
    except psutil.Error:
        return []
    out = []
    for process in processes:
        try:
            if process.pid not in names:
                names[process.pid] = label(process.cmdline(), process.name())
            out.append((process.pid, names[process.pid], process.memory_info().rss))
        except psutil.Error:
            continue  # ended between the listing and the read
    return out


class Peaks:
    """The largest RSS seen per process, and the largest sum over one sample."""

    def __init__(self):
        self.by_pid = {}
        self.total = 0
        self.samples = 0

    def add(self, sample):
        """Fold one sample ([(pid, name, rss)]) in."""
        self.samples += 1
        self.total = max(self.total, sum(rss for _, _, rss in sample))
        for pid, name, rss in sample:
            known = self.by_pid.get(pid)
            if known is None or rss > known[1]:
                self.by_pid[pid] = (name, rss)

    @property
    def peak(self):
        """{"pid", "name", "rss"} of the largest process seen, or None before any sample had a process."""
        if not self.by_pid:
            return None
        pid, (name, rss) = max(self.by_pid.items(), key=lambda item: item[1][1])
        return {"pid": pid, "name": name, "rss": rss}


class RssSampler(Peaks):
    """Samples the tree of ``pid`` every ``interval`` seconds on a daemon thread until stopped."""

    def __init__(self, pid, interval=0.1):
        super(RssSampler, self).__init__()
        self.pid = pid
        self.interval = interval
        self._names = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def _loop(self):
        while not self._done.is_set():
            self.add(tree(self.pid, self._names))
            self._done.wait(self.interval)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._done.set()
        self._thread.join(10)
        return self


def megabytes(value):
    return round(value / (1024.0 * 1024.0), 1)
