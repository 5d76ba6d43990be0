#!/usr/bin/env python3
"""The layers of the source tree (DESIGN.md, "Layout"), checked on every include.

    folder            may include (besides itself)
    agent/core/       the standard library, nlohmann/json, spdlog
    agent/schedule/   core
    api/http/         core
    api/kuma/         core, http
    api/pve/          core, schedule, http
    hook/             core, schedule, http, kuma, pve
    agent/            everything above
    agent/commands/   everything above, and agent/
    agent/main.cpp    agent/commands/

Every project include names its path from the repository root
("agent/core/fs.h"); a bare name or a relative path is a breach. cpprestsdk
(<cpprest/...>, <pplx/...>) is included only by the HTTP module's files,
api/http/module_*.cpp (CPPREST_ONLY_IN). Prints every breach with its file and line,
exits 1 if there is one. usage: include_rules.py SOURCE_DIR
"""
import os
import re
import sys

ALLOWED = {
    "agent/core": set(),
    "agent/schedule": {"agent/core"},
    "api/http": {"agent/core"},
    "api/kuma": {"agent/core", "api/http"},
    "api/pve": {"agent/core", "agent/schedule", "api/http"},
    "hook": {"agent/core", "agent/schedule", "api/http", "api/kuma", "api/pve"},
    "agent": {"agent/core", "agent/schedule", "api/http", "api/kuma", "api/pve", "hook"},
    "agent/commands": {"agent/core", "agent/schedule", "api/http", "api/kuma", "api/pve",
                       "hook", "agent"},
    "agent/main.cpp": {"agent/commands"},
}
CPPREST_ONLY_IN = {"api/http/module_http.cpp", "api/http/module_tls.cpp",
                   "api/http/module_ws.cpp"}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
TOP = ("agent", "api", "hook")


def folder_of(relpath):
    """The layer folder a project file belongs to, or None outside the product."""
    if relpath == "agent/main.cpp":
        return relpath
    folder = os.path.dirname(relpath)
    return folder if folder in ALLOWED else None


def sources(root):
    for top in TOP:
        for folder, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if name.endswith((".cpp", ".h")):
                    yield os.path.relpath(os.path.join(folder, name), root)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    root = argv[1]
    breaches, checked = [], 0
    for rel in sources(root):
        mine = folder_of(rel)
        if mine is None:
            breaches.append(f"{rel}: a source file outside the folders of the layout")
            continue
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                match = INCLUDE.match(line)
                if not match:
                    continue
                checked += 1
                kind, target = match.groups()
                if kind == "<":
                    if target.split("/")[0] in ("cpprest", "pplx") and rel not in CPPREST_ONLY_IN:
                        breaches.append(f"{rel}:{number}: includes {target}: cpprestsdk "
                                        f"belongs in the HTTP module's files alone "
                                        f"({', '.join(sorted(CPPREST_ONLY_IN))})")
                    continue
                if not os.path.isfile(os.path.join(root, target)) or target.startswith("."):
                    breaches.append(f'{rel}:{number}: includes "{target}": name project headers '
                                    f"by their path from the repository root")
                    continue
                theirs = folder_of(target)
                if theirs is None:
                    breaches.append(f"{rel}:{number}: includes {target}, which is outside "
                                    f"the product's folders")
                elif theirs != mine and theirs not in ALLOWED[mine]:
                    breaches.append(f"{rel}:{number}: includes {target}: {mine}/ may not "
                                    f"depend on {theirs}/")
    for breach in breaches:
        print(breach)
    print(f"{checked} includes checked, {len(breaches)} against the layers")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
