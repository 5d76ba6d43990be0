#!/usr/bin/env python3
"""docs.config_keys: every configuration key the parser knows is documented.

usage: config_keys.py REPO

Reads the keys that agent/core/config*.cpp parses (ObjectReader calls, the
chain lists, tables of {"key", &result.section...} entries) as dotted paths
(`kuma.url`, `jobs.<id>.push_token`) and fails when one of them is missing
from the man page (agent/pbk-agent.8) or from the README's "Configuration
reference" section, naming each missing key and where.
"""

import glob
import os
import re
import sys

# A reader over one JSON object: `ObjectReader reader(*kuma, "kuma", ...)`
# or `ObjectReader reader(value, job_path, ...)`.
READER = re.compile(r'ObjectReader\s+(\w+)\(\s*[^,]+,\s*("(?:[^"]*)"|\w+)\s*,')
# `std::string job_path = ChildPath("jobs", id)`: a per-id object.
CHILD_PATH = re.compile(r'(\w+)\s*=\s*ChildPath\(\s*"(\w+)"\s*,\s*\w+\s*\)')
# reader.String("url", ...), reader.Int(...), reader.Get(...); Object() opens
# a section, which is not a key of its own.
KEY_CALL = re.compile(r'\b(\w+)\.(String|Int|Bool|Get|StringList)\(\s*"(\w+)"')
# ReadChain(&reader, ...): the key "chain" of that reader's object.
CHAIN_CALL = re.compile(r'\bReadChain\(\s*&(\w+)\s*,')
# {"hook_script", &result->paths.hook_script}: a table of keys.
TABLE_ENTRY = re.compile(r'\{\s*"(\w+)"\s*,\s*&result(?:\.|->)(\w+)\.(\w+)\s*\}')


def parsed_keys(sources):
    keys = set()
    for path in sources:
        text = open(path, encoding="utf-8").read()
        # Comments could mention calls that are not made.
        text = re.sub(r"//[^\n]*", "", text)
        per_id = {var: f"{section}.<id>" for var, section in CHILD_PATH.findall(text)}
        # Walk the text in order: a reader's section holds until the same
        # variable is declared again.
        sections = {"top": ""}
        events = []
        for m in READER.finditer(text):
            events.append((m.start(), "reader", m))
        for m in KEY_CALL.finditer(text):
            events.append((m.start(), "key", m))
        for m in CHAIN_CALL.finditer(text):
            events.append((m.start(), "chain", m))
        for m in TABLE_ENTRY.finditer(text):
            keys.add(f"{m.group(2)}.{m.group(1)}")
        for _, kind, m in sorted(events, key=lambda e: e[0]):
            if kind == "reader":
                name, where = m.group(1), m.group(2)
                sections[name] = where.strip('"') if where.startswith('"') else per_id.get(where)
                continue
            reader = m.group(1)
            if reader not in sections or sections[reader] is None:
                continue
            key = m.group(3) if kind == "key" else "chain"
            prefix = sections[reader]
            keys.add(f"{prefix}.{key}" if prefix else key)
    return keys


def plain_roff(text):
    """The man page's text with font changes and escapes taken out."""
    text = re.sub(r"\\f[BIRP]|\\f\(\w\w|\\&|\\e", "", text)
    return text.replace("\\-", "-").replace("\\(en", "-")


def readme_reference(text):
    match = re.search(r"^## Configuration reference\n(.*?)(?=^## )", text, re.S | re.M)
    return match.group(1) if match else None


def main(argv):
    if len(argv) != 2:
        print("usage: config_keys.py REPO", file=sys.stderr)
        return 2
    repo = argv[1]
    sources = sorted(glob.glob(os.path.join(repo, "agent/core/config*.cpp")))
    if not sources:
        print(f"FAIL: no agent/core/config*.cpp under {repo}")
        return 1
    keys = parsed_keys(sources)
    # The parser knows these for certain; finding fewer means this script
    # no longer understands the parser, which must not pass silently.
    for anchor in ("node", "kuma.url", "jobs.<id>.push_token", "paths.state_dir", "hook.chain"):
        if anchor not in keys:
            print(f"FAIL: found no key {anchor} in {', '.join(sources)}: "
                  "config_keys.py no longer reads the parser right")
            return 1

    man = plain_roff(open(os.path.join(repo, "agent/pbk-agent.8"), encoding="utf-8").read())
    readme_text = open(os.path.join(repo, "README.md"), encoding="utf-8").read()
    reference = readme_reference(readme_text)
    if reference is None:
        print("FAIL: README.md has no section \"## Configuration reference\"")
        return 1

    missing = []
    for key in sorted(keys):
        # The man page lists each key as a tagged paragraph of its own.
        if not re.search(r"^\.B " + re.escape(key) + r"\s*$", man, re.M):
            missing.append(f"{key}: not in agent/pbk-agent.8 (a \".B {key}\" paragraph under CONFIGURATION)")
        # The README's table has a row per key: | `key` | default | meaning |
        if not re.search(r"^\| `" + re.escape(key) + r"` \|", reference, re.M):
            missing.append(f"{key}: not in README.md's configuration reference (a row \"| `{key}` |\")")
    for line in missing:
        print("FAIL: " + line)
    if missing:
        return 1
    print(f"PASS: {len(keys)} keys parsed in {', '.join(os.path.relpath(s, repo) for s in sources)}, "
          "each in the man page and the README")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
