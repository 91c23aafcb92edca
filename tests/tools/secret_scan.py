# -*- coding: utf-8 -*-
"""The secret scan: no credential the sandbox issued or received may appear in any kept output.

    python -m tests.tools.secret_scan [--secrets FILE ...] [--logs DIR ...] [--report FILE]

Loads the secret records the sandboxes wrote (``{"kind", "value", "where"}`` JSON lines, tests/sandbox/secret_log.py;
default: tests/output/secrets/*.jsonl) and looks for every value in every file under the log dirs (default: the
integration and molecule outputs and the sandboxes' request logs), verbatim and as a log could show it: JSON-escaped
(also twice, and with escaped slashes), URL-encoded (as in a form body or a query string, upper- or lower-case hex) and
base64 (standard and URL-safe alphabets, at any byte offset, so a secret inside a longer base64 text such as
``Basic client:secret`` is found too).

A hit is printed as file:line with the secret's kind, where the sandbox saw it and the encoding found, never the
secret itself: at most its first 3 characters. Exit status: 0 when nothing was found, 1 on any hit, 2 when there
was nothing to check (no secret records or no log files: a scan that checked nothing must not pass). The figures go
to tests/output/reliability/secrets.json: ``{secrets, kinds: {kind: n}, files, bytes, hits, findings}``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import array
import base64
import glob
import json
import os
import sys
from urllib.parse import quote, quote_plus

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUTPUT = os.path.join(ROOT, "tests", "output")
DEFAULT_SECRETS = os.path.join(OUTPUT, "secrets", "*.jsonl")
DEFAULT_LOGS = [os.path.join(OUTPUT, name) for name in ("integration", "molecule", "requests")]
DEFAULT_REPORT = os.path.join(OUTPUT, "reliability", "secrets.json")

# As in tests/sandbox/secret_log.py: shorter values would match ordinary text, and no credential is that short.
MIN_LENGTH = 8
# Every needle is at least MIN_LENGTH bytes long, so each occurrence covers a whole BLOCK-byte block of the file
# aligned on a multiple of BLOCK (2 * BLOCK - 1 <= MIN_LENGTH): a file can only hold a needle whose BLOCK-grams
# meet the set of its aligned blocks, and only those needles are searched for.
BLOCK = 4
MAX_SHOWN = 200


def mask(value):
    """At most the first 3 characters (fewer for short values), never enough to use the secret."""
    return value[:min(3, len(value) // 4)] + "***"


def load_secrets(paths):
    """(secrets, unreadable lines): one record per distinct value (the first seen), values shorter than MIN_LENGTH left out."""
    secrets, seen, bad = [], set(), 0
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    value = record["value"]
                except (ValueError, KeyError, TypeError):
                    bad += 1  # e.g. a line cut short when a sandbox was killed
                    continue
                if not isinstance(value, str) or len(value) < MIN_LENGTH or value in seen:
                    continue
                seen.add(value)
                secrets.append({"kind": str(record.get("kind") or "unknown"), "value": value, "where": str(record.get("where") or "")})
    return secrets, bad


def _base64_needles(raw, label, alphabet):
    """Base64 of `raw` wherever it starts in the encoded text: for each of the 3 byte offsets, the characters that
    depend on `raw` alone."""
    found = []
    for shift in range(3):
        encoded = alphabet(b"\0" * shift + raw).rstrip(b"=")
        start = -(-shift * 8 // 6)
        end = (shift + len(raw)) * 8 // 6
        found.append(("%s (offset %d)" % (label, shift) if shift else label, encoded[start:end]))
    return found


def encodings(value):
    """(label, needle bytes) for each form of the value a log could show; duplicates removed, verbatim first."""
    raw = value.encode("utf-8")
    single = json.dumps(value)[1:-1]
    forms = [
        ("verbatim", raw),
        ("JSON-escaped", single.encode("utf-8")),
        ("JSON-escaped", json.dumps(value, ensure_ascii=False)[1:-1].encode("utf-8")),
        ("JSON-escaped twice", json.dumps(single)[1:-1].encode("utf-8")),
        ("JSON-escaped with \\/", single.replace("/", "\\/").encode("utf-8")),
        ("URL-encoded", quote_plus(value, safe="").encode("ascii")),
        ("URL-encoded", quote(value, safe="").encode("ascii")),
    ]
    forms += [("URL-encoded (lower-case hex)", _lower_hex(needle)) for label, needle in forms[-2:]]
    forms += _base64_needles(raw, "base64", base64.b64encode)
    forms += _base64_needles(raw, "base64 (URL-safe)", base64.urlsafe_b64encode)
    unique, seen = [], set()
    for label, needle in forms:
        if len(needle) >= 2 * BLOCK - 1 and needle not in seen:
            seen.add(needle)
            unique.append((label, needle))
    return unique


def _lower_hex(encoded):
    parts = encoded.split(b"%")
    return parts[0] + b"".join(b"%" + part[:2].lower() + part[2:] for part in parts[1:])


def _block_key(chunk):
    return array.array("I", chunk)[0]


class Scanner:
    def __init__(self, secrets):
        self.secrets = secrets
        self.needles = []  # (needle, secret, label)
        self.by_block = {}  # every BLOCK-gram of a needle, as an int -> indexes of the needles holding it
        for secret in secrets:
            for label, needle in encodings(secret["value"]):
                index = len(self.needles)
                self.needles.append((needle, secret, label))
                for offset in range(len(needle) - BLOCK + 1):
                    self.by_block.setdefault(_block_key(needle[offset:offset + BLOCK]), set()).add(index)

    def scan(self, data):
        """[(line number, needle index)], once per needle and line."""
        blocks = array.array("I")
        blocks.frombytes(data[:len(data) - len(data) % BLOCK])
        candidates = set()
        for key in set(blocks).intersection(self.by_block):
            candidates.update(self.by_block[key])
        hits = set()
        for index in sorted(candidates):
            needle = self.needles[index][0]
            position = data.find(needle)
            while position >= 0:
                hits.add((data.count(b"\n", 0, position) + 1, index))
                position = data.find(needle, position + 1)
        # One hit per secret and line: the first (most direct) encoding found there.
        best = {}
        for line, index in sorted(hits):
            key = (line, id(self.needles[index][1]))
            best.setdefault(key, (line, index))
        return sorted(best.values())


def log_files(dirs, exclude=()):
    excluded = set(os.path.realpath(path) for path in exclude)
    files = []
    for root in dirs:
        if os.path.isfile(root):
            candidates = [root]
        else:
            candidates = [os.path.join(top, name) for top, _, names in os.walk(root) for name in names]
        files.extend(path for path in sorted(candidates) if os.path.realpath(path) not in excluded)
    return files


def main(argv=None, out=None):
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m tests.tools.secret_scan", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--secrets", nargs="+", action="extend", help="secret record files (default: %s)" % os.path.relpath(DEFAULT_SECRETS, ROOT))
    parser.add_argument("--logs", nargs="+", action="extend", help="dirs (or files) to scan (default: tests/output/integration, molecule, requests)")
    parser.add_argument("--report", default=DEFAULT_REPORT, help="where the figures go (JSON)")
    args = parser.parse_args(argv)
    secret_files = sorted(args.secrets or glob.glob(DEFAULT_SECRETS))
    secret_files = [path for path in secret_files if os.path.isfile(path)]
    secrets, bad = load_secrets(secret_files)
    files = log_files(args.logs or DEFAULT_LOGS, exclude=secret_files)
    kinds = {}
    for secret in secrets:
        kinds[secret["kind"]] = kinds.get(secret["kind"], 0) + 1
    scanner = Scanner(secrets)
    total, findings, shown = 0, [], 0
    for path in files:
        with open(path, "rb") as handle:
            data = handle.read()
        total += len(data)
        for line, index in scanner.scan(data):
            needle, secret, label = scanner.needles[index]
            findings.append({"file": os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path, "line": line,
                             "kind": secret["kind"], "where": secret["where"], "encoding": label})
            if shown < MAX_SHOWN:
                shown += 1
                print("%s:%d: %s (%s), %s: %s" % (findings[-1]["file"], line, secret["kind"], secret["where"], label, mask(secret["value"])), file=out)
    if len(findings) > shown:
        print("... and %d more hits" % (len(findings) - shown), file=out)
    if bad:
        print("%d unreadable secret record lines skipped" % bad, file=out)
    print("%d secrets of %d kinds checked against %d files (%.1f MB): %d hits" % (len(secrets), len(kinds), len(files), total / 1e6, len(findings)),
          file=out)
    report = {"secrets": len(secrets), "kinds": kinds, "files": len(files), "bytes": total, "hits": len(findings), "findings": findings}
    if args.report:
        os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
        with open(args.report, "w") as handle:
            json.dump(report, handle, indent=2, sort_keys=True)
            handle.write("\n")
    if not secrets or not files:
        print("secret scan: nothing to check (%s): run the integration tests or molecule first" % (
            "no secret records in %s" % (", ".join(secret_files) or os.path.relpath(DEFAULT_SECRETS, ROOT)) if not secrets else "no log files"),
            file=out)
        return 2
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
