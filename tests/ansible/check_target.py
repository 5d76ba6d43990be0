#!/usr/bin/python3
"""Checks one chroot target after the role ran on it, from outside, the way
an operator would look at a node. Prints one line per check; exits 1 when
any check fails.

  check_target.py --root ROOT --node NODE --tokens HOST_TOKENS_JSON
                  --cluster CLUSTER_DIR --api-user USER --kuma-url URL
                  --kuma-ca PEM [--server-name NAME] [--exclude JOB ...] [--chain SCRIPT ...]

ROOT is the chroot, CLUSTER_DIR the folder bind-mounted as its /etc/pve,
HOST_TOKENS_JSON the push tokens the host was given (job id -> token).
Secrets are compared, never printed.
"""

import argparse
import json
import os
import re
import stat
import subprocess
import sys

HOOK = "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh"
GUARD_ENTRY = "/usr/local/sbin/ensure-vzdump-hook.sh"
GUARD_TARGET = "/usr/lib/pbk-agent/ensure-vzdump-hook.sh"
CONFIG = "/etc/pbk-agent/config.json"
SECRET = "/etc/pbk-agent/pve-token"
KUMA_CA = "/etc/pbk-agent/kuma-ca.pem"
UNITS = ("vzdump-hook-guard.path", "vzdump-hook-guard.timer")


class Checks:
    def __init__(self, node):
        self.node = node
        self.failed = 0

    def check(self, name, ok, detail=""):
        print(f"  {'ok  ' if ok else 'FAIL'} {self.node}: {name}{(': ' + detail) if detail else ''}")
        if not ok:
            self.failed += 1
        return ok


def in_chroot(root, *argv):
    return subprocess.run(["chroot", root, *argv], capture_output=True, text=True, check=False,
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"})


def strip_comments(text):
    """pbk-agent's configuration is JSON with // comments (none inside strings here)."""
    return "\n".join(re.sub(r"^\s*//.*$", "", line) for line in text.split("\n"))


def private(path):
    st = os.lstat(path)
    return stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 and \
        st.st_uid == 0 and st.st_gid == 0


def parse_jobs_cfg(text):
    jobs, current = {}, None
    for line in text.split("\n"):
        header = re.match(r"(\S+):\s*(\S+)\s*$", line)
        if header:
            current = jobs.setdefault(header.group(2), {"type": header.group(1)}) \
                if header.group(1) == "vzdump" else None
        elif current is not None and line.strip():
            key, _, value = line.strip().partition(" ")
            current[key] = value
    return jobs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--tokens", required=True)
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--api-user", required=True)
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("--chain", action="append", default=[])
    parser.add_argument("--kuma-url", required=True)
    parser.add_argument("--server-name")
    parser.add_argument("--kuma-ca", required=True, help="the CA given to the role (PEM)")
    args = parser.parse_args()
    root, node = args.root, args.node
    c = Checks(node)
    with open(args.tokens, encoding="utf-8") as f:
        tokens = json.load(f)

    status = in_chroot(root, "dpkg-query", "-W", "-f=${Status} ${Version}", "pbk-agent")
    c.check("package installed", status.stdout.startswith("install ok installed"),
            status.stdout.strip() or status.stderr.strip())

    hook = root + HOOK
    text = open(hook, encoding="utf-8").read() if os.path.isfile(hook) else ""
    c.check(f"{HOOK} present and executable",
            os.path.isfile(hook) and os.access(hook, os.X_OK))
    c.check(f"{HOOK} runs /usr/bin/pbk-agent", "bin='/usr/bin/pbk-agent'" in text)

    entry = root + GUARD_ENTRY
    c.check(f"{GUARD_ENTRY} -> {GUARD_TARGET}",
            os.path.islink(entry) and os.readlink(entry) == GUARD_TARGET,
            os.readlink(entry) if os.path.islink(entry) else "missing")
    dry = in_chroot(root, GUARD_ENTRY, "--dry-run", "--json")
    c.check(f"{GUARD_ENTRY} --dry-run runs the guard",
            dry.returncode == 0 and json.loads(dry.stdout or "{}").get("ok") is True,
            f"exit {dry.returncode}")

    config_path = root + CONFIG
    c.check(f"{CONFIG} mode 0600 root:root", os.path.exists(config_path) and private(config_path))
    config = json.loads(strip_comments(open(config_path, encoding="utf-8").read()))
    given = {job: entry["push_token"] for job, entry in config.get("jobs", {}).items()
             if "push_token" in entry}
    c.check(f"{CONFIG} carries this host's own push tokens", given == tokens,
            f"jobs {sorted(given)}; expected {sorted(tokens)}")
    c.check(f"{CONFIG} names node {node}", config.get("node") == node)
    kuma = config.get("kuma", {})
    c.check(f"{CONFIG} pushes to {args.kuma_url}"
            f"{(' as ' + args.server_name) if args.server_name else ' by IP'}, trusting the CA given",
            kuma.get("url") == args.kuma_url and kuma.get("server_name") == args.server_name
            and kuma.get("ca_file") == KUMA_CA and os.path.isfile(root + KUMA_CA)
            and open(root + KUMA_CA, "rb").read() == open(args.kuma_ca, "rb").read(),
            f"url {kuma.get('url')}, server_name {kuma.get('server_name')}, ca_file {kuma.get('ca_file')}")
    token_id = f"{args.api_user}!guard-{node}"
    c.check(f"{CONFIG} uses the token {token_id}", config.get("pve", {}).get("token_id") == token_id)
    c.check(f"{CONFIG} excludes {args.exclude} from the guard",
            config.get("guard", {}).get("exclude") == args.exclude)
    c.check(f"{CONFIG} chains {args.chain or 'no hook'}",
            config.get("hook", {}).get("chain") == args.chain)
    c.check(f"{CONFIG} starts with the Ansible managed comment",
            open(config_path, encoding="utf-8").read().startswith("//"))

    secret_path = root + SECRET
    c.check(f"{SECRET} mode 0600 root:root", os.path.exists(secret_path) and private(secret_path))
    with open(os.path.join(args.cluster, "priv", "fake-api-tokens.json"), encoding="utf-8") as f:
        api_tokens = json.load(f)
    secret = open(secret_path, encoding="utf-8").read().strip() if os.path.exists(secret_path) else ""
    c.check(f"{SECRET} holds the secret PVE made for {token_id}",
            bool(secret) and api_tokens.get(token_id, {}).get("secret") == secret)
    c.check(f"{token_id} may read the jobs (Sys.Audit through the ACL)",
            "Sys.Audit" in api_tokens.get(token_id, {}).get("privs", []))
    with open(os.path.join(args.cluster, "fake-pveum.json"), encoding="utf-8") as f:
        pveum = json.load(f)
    acl = {(e["path"], e["type"], e["ugid"], e["roleid"]) for e in pveum["acl"]}
    c.check("ACL: PVEAuditor on / for the user and the token",
            ("/", "user", args.api_user, "PVEAuditor") in acl
            and ("/", "token", token_id, "PVEAuditor") in acl)
    token = pveum["users"].get(args.api_user, {}).get("tokens", {}).get(f"guard-{node}", {})
    c.check(f"{token_id} is privilege-separated", token.get("privsep") == 1)

    for unit in UNITS:
        enabled = in_chroot(root, "systemctl", "is-enabled", unit).stdout.strip()
        active = in_chroot(root, "systemctl", "is-active", unit).stdout.strip()
        c.check(f"{unit} enabled and started (fake systemctl)",
                enabled == "enabled" and active == "active", f"{enabled}, {active}")

    jobs = parse_jobs_cfg(open(os.path.join(args.cluster, "jobs.cfg"), encoding="utf-8").read())
    cron = open(os.path.join(args.cluster, "vzdump.cron"), encoding="utf-8").read()
    # Node placement (the default): the hook is vzdump's node default, no
    # job carries it itself; a job's own script would win over it.
    conf_path = os.path.join(root, "etc/vzdump.conf")
    conf = open(conf_path, encoding="utf-8").read() if os.path.exists(conf_path) else ""
    c.check(f"/etc/vzdump.conf names the hook (script: {HOOK})",
            re.search(rf"^script:\s*{re.escape(HOOK)}\s*$", conf, re.M) is not None,
            "missing" if not conf else "")
    for job_id, job in sorted(jobs.items()):
        if job_id in args.exclude:
            c.check(f"excluded job {job_id} keeps its own script", job.get("script") != HOOK,
                    job.get("script", "none"))
        else:
            c.check(f"job {job_id} runs the hook through the node default (no script of its own)",
                    "script" not in job, job.get("script", "none"))
    legacy = [line for line in cron.split("\n") if re.search(r"\broot\s+#?vzdump\b", line)]
    c.check("no legacy vzdump.cron job has a script of its own",
            all("--script" not in line for line in legacy), f"{len(legacy)} legacy line(s)")

    verify = in_chroot(root, "pbk-agent", "verify", "--json")
    try:
        report = json.loads(verify.stdout)
    except ValueError:
        report = {"ok": False, "checks": []}
    fails = [f"{x['check']}: {x['message']}" for x in report["checks"] if x["status"] == "FAIL"]
    c.check("pbk-agent verify ok", verify.returncode == 0 and report.get("ok") is True,
            "; ".join(fails))
    api = [x for x in report["checks"] if x["check"] == "PVE API"]
    c.check("verify read the jobs through the REST API with the token",
            bool(api) and api[0]["status"] == "OK", api[0]["message"] if api else "no check")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
