#!/usr/bin/env python3
"""The layers of the source tree, checked on every quoted #include.

    base      agent/{config,fs,log,text,schedule}.*   the standard library, JSON, spdlog
    api       api/                                     base
    hook      hook/                                    base, api
    commands  agent/ (everything else)                 everything above

and cpprestsdk (any <cpprest/...> or <pplx/...> include) only in the HTTP
module, api/http_client_cpprest.cpp. Prints every breach with its file and
line, exits 1 if there is one. usage: include_rules.py SOURCE_DIR
"""
import os
import re
import sys

BASE = {"config", "fs", "log", "text", "schedule"}
LAYER_RANK = {"base": 0, "api": 1, "hook": 2, "commands": 3}
CPPREST_ONLY_IN = "api/http_client_cpprest.cpp"
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def layer_of(relpath):
    folder, name = os.path.split(relpath)
    stem = os.path.splitext(name)[0]
    if folder == "agent":
        return "base" if stem in BASE else "commands"
    if folder in ("api", "hook"):
        return folder
    return None


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    root = argv[1]
    # Where each project header lives, by its name as included today.
    headers = {}
    for folder in ("agent", "api", "hook"):
        for name in os.listdir(os.path.join(root, folder)):
            if name.endswith(".h"):
                headers[name] = f"{folder}/{name}"
    breaches, checked = [], 0
    for folder in ("agent", "api", "hook"):
        for name in sorted(os.listdir(os.path.join(root, folder))):
            if not name.endswith((".cpp", ".h")):
                continue
            rel = f"{folder}/{name}"
            mine = layer_of(rel)
            with open(os.path.join(root, rel), encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    match = INCLUDE.match(line)
                    if not match:
                        continue
                    checked += 1
                    kind, target = match.groups()
                    if kind == "<" and target.split("/")[0] in ("cpprest", "pplx"):
                        if rel != CPPREST_ONLY_IN:
                            breaches.append(f"{rel}:{number}: includes {target}: cpprestsdk "
                                            f"belongs in {CPPREST_ONLY_IN} alone")
                        continue
                    if kind == "<" or target not in headers:
                        continue
                    theirs = layer_of(headers[target])
                    if LAYER_RANK[theirs] > LAYER_RANK[mine]:
                        breaches.append(f"{rel}:{number}: includes {headers[target]}: the "
                                        f"{mine} layer may not depend on the {theirs} layer")
    for breach in breaches:
        print(breach)
    print(f"{checked} includes checked, {len(breaches)} against the layers")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
