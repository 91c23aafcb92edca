# -*- coding: utf-8 -*-
"""A sandbox that outlives the command starting it, for molecule scenarios (run from the repository root).

    python -m tests.molecule.sandbox_process start --state-dir DIR   # detached; waits for DIR/sandbox.env
    python -m tests.molecule.sandbox_process get --state-dir DIR state   # GET /_sandbox/state, JSON on stdout
    python -m tests.molecule.sandbox_process get --state-dir DIR state pp/state --output FILE   # a list of both answers
    python -m tests.molecule.sandbox_process mark --state-dir DIR    # remember where the request log stands
    python -m tests.molecule.sandbox_process stop --state-dir DIR

The scenario's prepare starts it, converge and verify read DIR/sandbox.json for the connection settings,
destroy stops it. The admin token and the client secrets stay in DIR: nothing here prints them or puts them
on a command line (the control API's GET answers hold no secret).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import json
import os
import signal
import subprocess
import sys
import time

from tests.sandbox.client import ENV_FILE, JSON_FILE, REPO_ROOT, Sandbox, SandboxError, read_env

PID_FILE = "sandbox.pid"
LOG_FILE = "sandbox.log"
MARKS_FILE = "converge-marks.json"


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pid(state_dir):
    """The pid in the pid file, if that process is still this state dir's sandbox (a pid can be reused)."""
    try:
        with open(os.path.join(state_dir, PID_FILE)) as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        return None
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            argv = handle.read().decode("utf-8", "replace").split("\0")
    except OSError:
        return pid if _pid_alive(pid) else None  # no /proc: trust the pid file
    return pid if "tests.sandbox" in argv and state_dir in argv else None


def stop(state_dir, timeout=10):
    """Stop the sandbox of this state dir (its whole session); True if one ran.

    A first SIGTERM asks for a graceful stop, a second one (after a second) makes it exit at once, SIGKILL
    after `timeout` seconds.
    """
    pid = _read_pid(state_dir)
    if pid is None or not _pid_alive(pid):
        _remove(os.path.join(state_dir, PID_FILE))
        return False
    started = time.monotonic()
    _signal(pid, signal.SIGTERM)
    forced = False
    while _pid_alive(pid) and time.monotonic() - started < timeout:
        if not forced and time.monotonic() - started > 1:
            _signal(pid, signal.SIGTERM)
            forced = True
        time.sleep(0.05)
    if _pid_alive(pid):
        _signal(pid, signal.SIGKILL)
    _remove(os.path.join(state_dir, PID_FILE))
    return True


def _signal(pid, sig):
    # The sandbox leads its own session (start_new_session), so its process group id is its pid.
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def start(state_dir, timeout=120):
    """Start `python -m tests.sandbox serve` in a new session; return its pid once sandbox.env and sandbox.json are written."""
    state_dir = os.path.abspath(state_dir)
    os.makedirs(state_dir, exist_ok=True)
    stop(state_dir)  # a sandbox left behind by an interrupted run
    for name in (ENV_FILE, JSON_FILE, MARKS_FILE):
        _remove(os.path.join(state_dir, name))
    log_path = os.path.join(state_dir, LOG_FILE)
    with open(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "tests.sandbox", "serve", "--state-dir", state_dir, "--port", "0"],
                                   cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    with open(os.path.join(state_dir, PID_FILE), "w") as handle:
        handle.write("%d\n" % process.pid)
    json_path = os.path.join(state_dir, JSON_FILE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _remove(os.path.join(state_dir, PID_FILE))
            raise SandboxError("the sandbox exited with %s; see %s" % (process.returncode, log_path))
        if os.path.exists(os.path.join(state_dir, ENV_FILE)) and os.path.exists(json_path):
            try:
                with open(json_path) as handle:
                    if json.load(handle).get("pid") == process.pid:
                        return process.pid
            except ValueError:
                pass  # being written
        time.sleep(0.05)
    process.kill()
    process.wait()
    _remove(os.path.join(state_dir, PID_FILE))
    raise SandboxError("the sandbox did not start within %ss; see %s" % (timeout, log_path))


def connect(state_dir):
    env_path = os.path.join(state_dir, ENV_FILE)
    if not os.path.exists(env_path):
        raise SandboxError("no sandbox runs with the state dir %s (no %s): run the scenario's prepare first" % (state_dir, ENV_FILE))
    return Sandbox(state_dir, read_env(env_path))


def mark(state_dir):
    """Append the request log's last sequence number to MARKS_FILE; return it."""
    sandbox = connect(state_dir)
    try:
        entries = sandbox.log()
    finally:
        sandbox.http.close()
    seq = entries[-1]["seq"] if entries else 0
    path = os.path.join(state_dir, MARKS_FILE)
    marks = []
    if os.path.exists(path):
        with open(path) as handle:
            marks = json.load(handle)
    marks.append(seq)
    with open(path, "w") as handle:
        json.dump(marks, handle)
    return seq


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.molecule.sandbox_process", description=__doc__.split("\n", 1)[0])
    parser.add_argument("command", choices=["start", "stop", "get", "mark"])
    parser.add_argument("path", nargs="*", help="control API paths under /_sandbox/ to read (get)")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--output", default=None, help="write the answer to this file instead of stdout (get)")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_intermixed_args(argv)
    state_dir = os.path.abspath(args.state_dir)
    try:
        if args.command == "start":
            print("sandbox started (pid %d), state dir %s" % (start(state_dir, args.timeout), state_dir))
        elif args.command == "stop":
            print("sandbox stopped" if stop(state_dir) else "no sandbox was running")
        elif args.command == "mark":
            print(json.dumps({"seq": mark(state_dir)}))
        else:
            if not args.path:
                parser.error("get needs one or more control API paths")
            sandbox = connect(state_dir)
            try:
                answers = [sandbox.control("GET", path) for path in args.path]
                answer = answers[0] if len(answers) == 1 else answers
            finally:
                sandbox.http.close()
            if args.output:
                with open(args.output, "w") as handle:
                    json.dump(answer, handle)
            else:
                print(json.dumps(answer))
    except SandboxError as exc:
        print("sandbox: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
