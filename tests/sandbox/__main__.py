"""Command line: ``python -m tests.sandbox serve [--state-dir DIR] [--host 127.0.0.1] [--port 0] [--seed default] [--snapshot FILE]``."""

import argparse
import os
import sys

DEFAULT_STATE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".build", "sandbox")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.sandbox", description="Local HTTPS emulator of the Microsoft login service and Graph.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the sandbox in the foreground until SIGINT/SIGTERM")
    serve.add_argument("--state-dir", default=DEFAULT_STATE_DIR,
                       help="where ca.pem, the app certificate and sandbox.env/sandbox.json go (default: .build/sandbox in the repository)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0,
                       help="first port: login, graph, exchange and pp listen on PORT..PORT+3; 0 picks free ports (default)")
    serve.add_argument("--seed", default="default", choices=["default"], help="initial tenant content")
    serve.add_argument("--snapshot", metavar="FILE",
                       help="start from a tenant snapshot the doctor wrote (its snapshot_path) instead of the seed: a rehearsal copy of your tenant")
    args = parser.parse_args(argv)
    snap = None
    if args.snapshot:
        from .snapshot import SnapshotError, load, summary
        try:
            snap = load(args.snapshot)
        except SnapshotError as exc:
            print("sandbox: %s" % exc, file=sys.stderr)
            return 2
        print("sandbox: %s" % summary(snap), flush=True)

    from .server import serve as run

    def ready(env_path):
        print("sandbox ready: %s" % env_path, flush=True)

    try:
        return run(args.state_dir, host=args.host, port=args.port, seed=args.seed, on_ready=ready, snapshot=snap)
    except OSError as exc:
        print("sandbox: cannot start: %s" % exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
