#!/usr/bin/env python3
"""The web UI's "Run now" of a backup job, as a logged-in user sends it.

    run_now.py --url https://127.0.0.1:PORT --ca CA.pem --user admin@pve
               --credentials FILE --job ID [--node NODE]

Reads the job (GET /cluster/backup/{id}) and starts it on NODE the way
pve-manager's Backup.js `run_backup_now` does: the job's options without
enabled starttime dow id schedule type node comment next-run repeat-missed,
`all` set to 1 or 0 explicitly, performance, prune-backups and fleecing as
property strings, POSTed to /nodes/{node}/vzdump. NODE defaults to the
job's node, else pve1.

FILE is the fake API's credentials file (tests/fakes/fake_pve.py --tokens);
the user's "ticket" and "csrf" are taken from it and never printed. Prints one
JSON line: {"status": HTTP status, "reason": reason phrase, "body": the
answer's JSON or null, "sent": [the option names sent]}. Exit 0 when the
POST answered 200, 1 when it answered otherwise, 2 when it could not be made.
"""

import argparse
import json
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

DROPPED = ("enabled", "starttime", "dow", "id", "schedule", "type", "node", "comment",
           "next-run", "repeat-missed")
PROPERTY_STRINGS = ("performance", "prune-backups", "fleecing")


def property_string(value):
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return value


def request(args, credentials, method, path, form=None):
    headers = {"Cookie": "PVEAuthCookie=" + urllib.parse.quote(credentials["ticket"])}
    data = None
    if method != "GET":
        headers["CSRFPreventionToken"] = credentials["csrf"]
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        data = urllib.parse.urlencode(form or {}).encode()
    req = urllib.request.Request(args.url + "/api2/json" + path, data=data, headers=headers,
                                 method=method)
    context = ssl.create_default_context(cafile=args.ca)
    context.check_hostname = False  # the fake's certificate names 127.0.0.1 as an IP
    try:
        with urllib.request.urlopen(req, context=context, timeout=30) as answer:
            return answer.status, answer.reason, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        return e.code, e.reason, parsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--credentials", required=True)
    parser.add_argument("--job", required=True)
    parser.add_argument("--node")
    args = parser.parse_args()
    try:
        with open(args.credentials, encoding="utf-8") as f:
            credentials = json.load(f)[args.user]
        status, reason, body = request(args, credentials, "GET",
                                       "/cluster/backup/" + urllib.parse.quote(args.job))
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            print(json.dumps({"status": status, "reason": reason, "body": body, "sent": [],
                              "step": "reading the job"}))
            return 1
        job = body["data"]
        node = args.node or job.get("node") or "pve1"
        options = {k: v for k, v in job.items() if k not in DROPPED}
        options["all"] = 1 if str(job.get("all", "0")) in ("1", "true") else 0
        for key in PROPERTY_STRINGS:
            if key in options:
                options[key] = property_string(options[key])
        status, reason, body = request(args, credentials, "POST",
                                       f"/nodes/{urllib.parse.quote(node)}/vzdump", options)
    except (OSError, ValueError, KeyError) as e:
        print(json.dumps({"error": str(e)}))
        return 2
    print(json.dumps({"status": status, "reason": reason, "body": body,
                      "sent": sorted(options)}))
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
