#!/usr/bin/python3
"""The fake PVE against the reference documents (shared/reference/*.md):
each test names the fact it checks. Run by ctest as fakes.reference."""

import json
import os
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakes_testlib  # noqa: E402
import pmxcfs  # noqa: E402

TOKEN = "pbk-agent@pve!guard"
SECRET = "5f0c2d1e-aaaa-bbbb-cccc-000000000001"
BLIND = "blind@pve!audit"
BLIND_SECRET = "5f0c2d1e-aaaa-bbbb-cccc-000000000002"
ROOT_TOKEN = "root@pam!guard"
ROOT_TICKET = "PVE:root@pam:66AA0001::root-ticket"
ADMIN_TICKET = "PVE:admin@pve:66AA0002::admin-ticket"
CSRF = "66AA0002:csrf"
GUESTS = [
    {"id": "qemu/100", "vmid": 100, "type": "qemu", "node": "pve1", "name": "web01",
     "status": "running", "template": 0},
    {"id": "lxc/101", "vmid": 101, "type": "lxc", "node": "pve2", "name": "db01",
     "status": "running", "template": 0, "pool": "db"},
    {"id": "storage/pve1/local", "type": "storage", "node": "pve1", "storage": "local"},
]


def token_header(token_id, secret):
    return {"Authorization": f"PVEAPIToken={token_id}={secret}"}


class FakePveTest(fakes_testlib.FakeTestCase):
    def setUp(self):
        self.folder = self.make_folder()
        self.root = os.path.join(self.folder, "pve")
        os.makedirs(self.root)
        self.tokens = os.path.join(self.folder, "tokens.json")
        self.write_tokens({
            TOKEN: {"secret": SECRET, "privs": ["Sys.Audit"]},
            BLIND: {"secret": BLIND_SECRET, "privs": ["Sys.Audit"], "vm_audit": False},
            ROOT_TOKEN: {"secret": SECRET, "privs": ["Sys.Audit", "Sys.Modify"]},
            "root@pam": {"ticket": ROOT_TICKET},
            "admin@pve": {"ticket": ADMIN_TICKET, "csrf": CSRF,
                          "privs": ["Datastore.AllocateSpace", "VM.Backup"]},
        })
        with open(os.path.join(self.root, "resources.json"), "w", encoding="utf-8") as f:
            json.dump(GUESTS, f)
        self.server = fakes_testlib.Server(
            "fake_pve.py", ["--root", self.root, "--cert", self.cert, "--key", self.key,
                            "--tokens", self.tokens], self.folder)
        self.addCleanup(self.server.stop)

    def second_folder(self, name):
        folder = os.path.join(self.folder, name)
        os.makedirs(folder)
        return folder

    def write_tokens(self, tokens):
        with open(self.tokens, "w", encoding="utf-8") as f:
            json.dump(tokens, f)

    def get(self, path, token=TOKEN, secret=SECRET):
        return self.server.request("GET", "/api2/json" + path, token_header(token, secret))

    def post_vzdump(self, form, headers, node="pve1"):
        return self.server.request("POST", f"/api2/json/nodes/{node}/vzdump", headers,
                                   form=form)

    def write_conf(self, text, node=None):
        path = os.path.join(self.root, "node-etc", *([node] if node else []), "vzdump.conf")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    # --- 401 (pve-backup-api.md, REST details) ----------------------------

    def test_401_has_no_body_no_content_length_and_closes(self):
        answer = self.get("/cluster/backup", secret="wrong")
        self.assertEqual(answer.status, 401)
        self.assertEqual(answer.reason, "authentication failure")
        self.assertEqual(answer.body, b"")
        self.assertIsNone(answer.header("Content-Length"))
        self.assertEqual(answer.header("Connection"), "close")

    def test_401_without_credentials_says_no_ticket(self):
        answer = self.server.request("GET", "/api2/json/cluster/backup")
        self.assertEqual((answer.status, answer.reason), (401, "No ticket"))

    # --- errors carry "message" since PVE 8.4 (pve-backup-api.md) ---------

    def test_403_names_the_privilege_in_reason_and_message(self):
        answer = self.server.request("PUT", "/api2/json/cluster/backup/backup-1",
                                     token_header(TOKEN, SECRET), form={"script": "/x"})
        self.assertEqual(answer.status, 403)
        self.assertEqual(answer.reason, "Permission check failed (/, Sys.Modify)")
        self.assertEqual(answer.json(), {"data": None,
                                         "message": "Permission check failed (/, Sys.Modify)\n"})
        self.assertEqual(answer.header("Content-Type"), "application/json;charset=UTF-8")

    # --- guests and VM.Audit (pve-backup-api.md, where the guests are) ----

    def test_resources_show_guests_to_a_token_with_vm_audit(self):
        answer = self.get("/cluster/resources?type=vm")
        self.assertEqual(answer.status, 200)
        self.assertEqual([g["vmid"] for g in answer.json()["data"]], [100, 101])

    def test_resources_hide_guests_from_a_token_without_vm_audit(self):
        answer = self.get("/cluster/resources", token=BLIND, secret=BLIND_SECRET)
        self.assertEqual(answer.status, 200)
        self.assertEqual([e["type"] for e in answer.json()["data"]], ["storage"])
        # Sys.Audit still reads the jobs.
        self.assertEqual(self.get("/cluster/backup", BLIND, BLIND_SECRET).status, 200)

    def test_resources_show_only_the_guests_a_token_may_audit(self):
        self.write_tokens({BLIND: {"secret": BLIND_SECRET, "privs": [], "vm_audit": [101]}})
        answer = self.get("/cluster/resources?type=vm", token=BLIND, secret=BLIND_SECRET)
        self.assertEqual([g["vmid"] for g in answer.json()["data"]], [101])

    # --- /nodes/{node}/vzdump/defaults (pve-hook-placement.md) ------------

    def test_node_has_the_shipped_vzdump_conf(self):
        path = os.path.join(self.root, "node-etc", "vzdump.conf")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("\n#script: FILENAME\n", text)
        self.assertFalse([line for line in text.splitlines()
                          if line and not line.startswith("#")])

    def test_defaults_of_the_shipped_conf_have_no_script(self):
        answer = self.get("/nodes/pve1/vzdump/defaults")
        self.assertEqual(answer.status, 200)
        data = answer.json()["data"]
        self.assertNotIn("script", data)
        self.assertEqual(data["storage"], "local")
        self.assertEqual(data["mode"], "snapshot")
        self.assertEqual(data["prune-backups"], "keep-all=1")

    def test_defaults_show_the_script_with_sys_audit(self):
        self.write_conf("# mine\nscript: /var/lib/vz/snippets/hook.sh\nstorage: pbs1\n")
        data = self.get("/nodes/pve1/vzdump/defaults").json()["data"]
        self.assertEqual(data["script"], "/var/lib/vz/snippets/hook.sh")
        self.assertEqual(data["storage"], "pbs1")
        self.assertNotIn("dumpdir", data)

    def test_defaults_hide_the_script_without_sys_audit(self):
        self.write_conf("script: /var/lib/vz/snippets/hook.sh\n")
        self.write_tokens({TOKEN: {"secret": SECRET, "privs": []}})
        answer = self.get("/nodes/pve1/vzdump/defaults")
        self.assertEqual(answer.status, 200)
        self.assertNotIn("script", answer.json()["data"])

    def test_defaults_of_another_node_come_from_its_own_conf(self):
        subprocess.run([sys.executable, os.path.join(fakes_testlib.HERE, "pmxcfs.py"),
                        "members", "--root", self.root, "--cluster", "c1",
                        "--nodes", "pve1,pve2,pve3", "--offline", "pve3"], check=True)
        self.write_conf("script: /other/hook\n", node="pve2")
        self.assertEqual(self.get("/nodes/pve2/vzdump/defaults").json()["data"]["script"],
                         "/other/hook")
        self.assertEqual(self.get("/nodes/pve3/vzdump/defaults").status, 595)
        self.assertEqual(self.get("/nodes/pve9/vzdump/defaults").status, 500)

    def test_the_node_a_fake_answers_for_is_its_own_even_in_a_shared_tree(self):
        # Fakes of several nodes on one tree share .members, whose nodename
        # is one of them; pmxcfs shows each node its own. --node says which.
        subprocess.run([sys.executable, os.path.join(fakes_testlib.HERE, "pmxcfs.py"),
                        "members", "--root", self.root, "--cluster", "c1",
                        "--nodes", "pve1,pve2"], check=True)
        own_conf = os.path.join(self.folder, "pve2-vzdump.conf")
        with open(own_conf, "w", encoding="utf-8") as f:
            f.write("script: /var/lib/vz/snippets/hook.sh\n")
        self.write_conf("script: /not/this/one\n", node="pve2")
        pve2 = fakes_testlib.Server(
            "fake_pve.py", ["--root", self.root, "--cert", self.cert, "--key", self.key,
                            "--tokens", self.tokens, "--node", "pve2",
                            "--vzdump-conf", own_conf], self.second_folder("pve2"))
        self.addCleanup(pve2.stop)
        answer = pve2.request("GET", "/api2/json/nodes/pve2/vzdump/defaults",
                              token_header(TOKEN, SECRET))
        self.assertEqual(answer.json()["data"]["script"], "/var/lib/vz/snippets/hook.sh")

    def pvesh(self, *args):
        return subprocess.run([sys.executable, os.path.join(fakes_testlib.HERE, "fake_pvesh.py"),
                               "--root", self.root, "--log", os.path.join(self.folder, "pvesh"),
                               *args], capture_output=True, text=True, check=False)

    def test_pvesh_reads_the_same_defaults_as_the_api(self):
        self.write_conf("script: /var/lib/vz/snippets/hook.sh\nmailto: a@example.org\n")
        rest = self.get("/nodes/pve1/vzdump/defaults").json()["data"]
        result = self.pvesh("get", "/nodes/pve1/vzdump/defaults", "--output-format", "json")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout), rest)

    def test_pvesh_and_the_api_see_one_job_list(self):
        with open(os.path.join(self.root, "jobs.cfg"), "w", encoding="utf-8") as f:
            f.write("vzdump: backup-1\n\tschedule 21:00\n\tall 1\n\tenabled 1\n")
        set_result = self.pvesh("set", "/cluster/backup/backup-1", "--script", "/x/hook")
        self.assertEqual((set_result.returncode, set_result.stdout), (0, ""))
        self.assertEqual(self.get("/cluster/backup/backup-1").json()["data"]["script"], "/x/hook")

    # --- POST /nodes/{node}/vzdump: "Run now" (pve-hook-placement.md) ----

    RUN_NOW = {"all": "0", "vmid": "100", "storage": "local", "mode": "snapshot",
               "script": "/var/lib/vz/snippets/hook.sh"}

    def test_run_now_with_script_fails_for_an_admin_who_is_not_root(self):
        headers = {"Cookie": f"PVEAuthCookie={ADMIN_TICKET}", "CSRFPreventionToken": CSRF}
        answer = self.post_vzdump(self.RUN_NOW, headers)
        self.assertEqual(answer.status, 400)
        self.assertEqual(answer.json()["errors"], {"script": "Only root may set this option."})
        event = self.server.events("vzdump")[-1]
        self.assertEqual((event["user"], event["status"]), ("admin@pve", 400))

    def test_run_now_without_script_works_for_that_admin(self):
        form = {k: v for k, v in self.RUN_NOW.items() if k != "script"}
        headers = {"Cookie": f"PVEAuthCookie={ADMIN_TICKET}", "CSRFPreventionToken": CSRF}
        answer = self.post_vzdump(form, headers)
        self.assertEqual(answer.status, 200)
        self.assertTrue(answer.json()["data"].startswith("UPID:pve1:"))
        self.assertTrue(answer.json()["data"].endswith(":vzdump:100:admin@pve:"))
        self.assertEqual(self.server.events("vzdump")[-1]["status"], 200)

    def test_run_now_with_script_works_for_root_at_pam(self):
        headers = {"Cookie": f"PVEAuthCookie={ROOT_TICKET}", "CSRFPreventionToken": "any"}
        self.assertEqual(self.post_vzdump(self.RUN_NOW, headers).status, 200)

    def test_a_token_of_root_at_pam_is_not_root(self):
        answer = self.post_vzdump(self.RUN_NOW, token_header(ROOT_TOKEN, SECRET))
        self.assertEqual(answer.status, 400)
        self.assertIn("script", answer.json()["errors"])

    def test_a_ticket_write_needs_the_csrf_token(self):
        answer = self.post_vzdump(self.RUN_NOW, {"Cookie": f"PVEAuthCookie={ROOT_TICKET}"})
        self.assertEqual(answer.status, 401)
        self.assertEqual(answer.body, b"")

    def test_run_now_checks_options_against_the_vzdump_schema(self):
        headers = {"Cookie": f"PVEAuthCookie={ROOT_TICKET}", "CSRFPreventionToken": "x"}
        answer = self.post_vzdump(dict(self.RUN_NOW, mode="fast", schedule="21:00"), headers)
        self.assertEqual(answer.status, 400)
        self.assertEqual(sorted(answer.json()["errors"]), ["mode", "schedule"])

    def test_run_now_needs_the_storage_privilege(self):
        form = {k: v for k, v in self.RUN_NOW.items() if k != "script"}
        answer = self.post_vzdump(form, token_header(TOKEN, SECRET))
        self.assertEqual(answer.status, 403)
        self.assertEqual(answer.reason,
                         "Permission check failed (/storage/local, Datastore.AllocateSpace)")

    def test_run_now_without_a_guest_on_the_node_answers_ok(self):
        headers = {"Cookie": f"PVEAuthCookie={ROOT_TICKET}", "CSRFPreventionToken": "x"}
        answer = self.post_vzdump(dict(self.RUN_NOW, vmid="101"), headers)
        self.assertEqual((answer.status, answer.json()["data"]), (200, "OK"))

    # --- the pmxcfs tree (pve-hook-placement.md, the cluster) -------------

    def test_tree_has_members_node_folder_and_lock_folder(self):
        with open(os.path.join(self.root, ".members"), encoding="utf-8") as f:
            self.assertEqual(json.load(f), {"nodename": "pve1", "version": 1})
        self.assertTrue(os.path.isdir(os.path.join(self.root, "nodes", "pve1")))
        self.assertEqual(os.stat(os.path.join(self.root, "priv")).st_mode & 0o777, 0o700)
        lock = os.path.join(self.root, "priv", "lock", "pbk-agent")
        os.mkdir(lock)
        with self.assertRaises(FileExistsError):
            os.mkdir(lock)

    def test_without_quorum_pmxcfs_refuses_writes_but_reads_work(self):
        node_file = os.path.join(self.root, "nodes", "pve1", "mark.json")
        with open(node_file, "w", encoding="utf-8") as f:
            f.write("{}")
        pmxcfs.set_quorum(self.root, False)
        self.addCleanup(pmxcfs.set_quorum, self.root, True)
        with self.assertRaises(PermissionError):
            os.mkdir(os.path.join(self.root, "priv", "lock", "x"))
        with self.assertRaises(PermissionError):
            open(node_file, "w", encoding="utf-8").close()
        with open(node_file, encoding="utf-8") as f:
            self.assertEqual(f.read(), "{}")
        self.assertEqual(self.get("/cluster/backup").status, 200)
        pmxcfs.set_quorum(self.root, True)
        os.mkdir(os.path.join(self.root, "priv", "lock", "x"))

    def test_without_quorum_members_say_not_quorate(self):
        pmxcfs.set_quorum(self.root, True)  # a standalone node stays as it is
        with open(os.path.join(self.root, ".members"), encoding="utf-8") as f:
            self.assertNotIn("cluster", json.load(f))
        with open(os.path.join(self.root, ".members"), "w", encoding="utf-8") as f:
            json.dump(pmxcfs.members("pve1", "c1", ["pve1", "pve2"]), f)
        pmxcfs.set_quorum(self.root, False)
        self.addCleanup(pmxcfs.set_quorum, self.root, True)
        with open(os.path.join(self.root, ".members"), encoding="utf-8") as f:
            self.assertEqual(json.load(f)["cluster"]["quorate"], 0)

    def test_cluster_members_form(self):
        value = pmxcfs.members("pve1", "c1", ["pve1", "pve2"], offline=["pve2"])
        self.assertEqual(value["cluster"], {"name": "c1", "version": 2, "nodes": 2,
                                            "quorate": 1})
        self.assertEqual(value["nodelist"]["pve2"]["online"], 0)
        self.assertEqual(value["nodelist"]["pve1"]["id"], 1)


if __name__ == "__main__":
    unittest.main()
