"""What a PVE node answers about vzdump itself, and who may see and do what.

Shared by fake_pve.py (callers with tokens or tickets) and fake_pvesh.py
(root@pam). Facts: reference/pve-hook-placement.md (pve-manager
PVE/API2/VZDump.pm, PVE/API2/Backup.pm, PVE/VZDump.pm, configs/vzdump.conf).

Privileges. A caller's "privs" hold on / and everything below it. root@pam
(a ticket, or pvesh) has every privilege. A token's user is the token id,
never root@pam. VM.Audit on /vms/<vmid> is granted unless the caller's
entry says "vm_audit": false (none) or a list of vmids (those only), so the
default test tokens act like a PVEAuditor token. Storage privileges
(Datastore.*) are checked only where PVE refuses a call without them (a
vzdump run's storage), and they come from "privs" alone.
"""

import os
import re
import time

import pmxcfs
import pve_job_files
import pve_schema
import pve_state

ROOT_USER = pve_state.ROOT_USER
# PVE::API2::Backup::assert_param_permission_common, in its loop order.
ROOT_ONLY = pve_state.ROOT_ONLY
# What the defaults answer hides from callers without Sys.Audit on the node.
NODE_AUDIT_ONLY = ("mailto", "tmpdir", "dumpdir", "script", "ionice")
# vzdump takes these beyond the job options (json_config_properties + stdout).
VZDUMP_EXTRA = {
    "stdout": {"type": "boolean", "optional": 1},
    "job-id": {"type": "string", "optional": 1, "maxLength": 256},
}
CONF_LINE = re.compile(r"(\S+?):\s*(.*)\Z")
# A directory storage the fake knows; any other storage id is taken as PBS.
DIR_STORAGES = {"local": "/var/lib/vz/dump"}


class Caller:
    """Who calls: ID is what PVE's get_user() returns (the token id for a token)."""

    def __init__(self, caller_id, entry=None, ticket=False):
        self.id = caller_id
        self.entry = entry or {}
        # Logged in with a ticket (writes then need the CSRF token).
        self.ticket = ticket

    @property
    def is_root(self):
        return self.id == ROOT_USER

    def has(self, priv, path="/"):
        if self.is_root:
            return True
        if priv == "VM.Audit":
            allowed = self.entry.get("vm_audit", True)
            if isinstance(allowed, list):
                vmid = path.rsplit("/", 1)[-1] if path.startswith("/vms/") else None
                return vmid is not None and vmid in {str(v) for v in allowed}
            return bool(allowed) or priv in self.entry.get("privs", [])
        return priv in self.entry.get("privs", [])


ROOT_CALLER = Caller(ROOT_USER)


def permission_denied(path, privs):
    return pve_schema.PveError(403, f"Permission check failed ({path}, {'|'.join(privs)})")


def visible_resources(entries, caller):
    """/cluster/resources as PVE filters it: a guest only with VM.Audit on it."""
    shown = []
    for entry in entries:
        if (isinstance(entry, dict) and entry.get("type") in ("qemu", "lxc")
                and not caller.has("VM.Audit", f"/vms/{entry.get('vmid')}")):
            continue
        shown.append(entry)
    return shown


class Node:
    """The node-local part of the API for the node NAME of the fake's cluster."""

    def __init__(self, state, local_node, vzdump_conf=None):
        self.state = state
        self.schema = state.schema
        self.local_node = local_node or pmxcfs.DEFAULT_NODE
        # --node names this node even when .members (shared, as the
        # fakes of several nodes share one tree) says another nodename.
        self.explicit_node = local_node
        self.vzdump_conf = vzdump_conf
        self.vzdump_props = dict(self.schema.vzdump_props, **VZDUMP_EXTRA)

    # --- which node answers -----------------------------------------------

    def local_and_nodes(self):
        """(this node, {node: online}): --node wins over .members' nodename."""
        local, nodes = pmxcfs.cluster_nodes(self.state.root, self.local_node)
        if self.explicit_node:
            local = self.explicit_node
            nodes[local] = True
        return local, nodes

    def resolve(self, node):
        """Checks NODE the way pveproxy's proxying would fail; returns it."""
        _, nodes = self.local_and_nodes()
        if node not in nodes:
            raise pve_schema.PveError(500, f"hostname lookup '{node}' failed - failed to get "
                                      f"address info for: {node}: Name or service not known")
        if not nodes[node]:
            raise pve_schema.PveError(595, "Connection refused")
        return node

    def conf_path(self, node):
        local, _ = self.local_and_nodes()
        if node == local:
            return pmxcfs.vzdump_conf_path(self.state.root, self.vzdump_conf)
        return os.path.join(self.state.root, "node-etc", node, "vzdump.conf")

    # --- GET /nodes/{node}/vzdump/defaults --------------------------------

    def read_defaults(self, node):
        """PVE::VZDump::read_vzdump_defaults: the schema's defaults, then
        the node's vzdump.conf (a value that fails the schema is dropped,
        as PVE warns and drops it)."""
        result = {}
        for name, prop in self.schema.vzdump_props.items():
            if "default" in prop:
                result[name] = self._typed(name, prop, prop["default"])
        try:
            with open(self.conf_path(node), encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except FileNotFoundError:
            text = pmxcfs.SHIPPED_VZDUMP_CONF
        found = {}
        for raw in text.split("\n"):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            match = CONF_LINE.match(line)
            if match is None:
                continue  # PVE: "ignore config line"
            key, value = match.group(1), match.group(2)
            prop = self.schema.vzdump_props.get(key)
            if prop is not None and prop.get("type") == "array":
                found.setdefault(key, []).append(value)
            else:
                found[key] = value
        for key, value in found.items():
            prop = self.schema.vzdump_props.get(key)
            if prop is None:
                continue
            typed = self._typed(key, prop, value)
            if typed is not None:
                result[key] = typed
        if "storage" in found and "dumpdir" in found:
            del result["dumpdir"]
        return result

    def _typed(self, name, prop, value):
        try:
            return self.schema.check_value(name, prop, value)
        except ValueError:
            return None

    def defaults(self, node, caller, storage=None):
        node = self.resolve(node)
        res = self.read_defaults(node)
        if storage is not None:
            res["storage"] = storage
        if "dumpdir" not in res and "storage" not in res:
            res["storage"] = "local"
        if res.get("storage") in DIR_STORAGES:
            res["dumpdir"] = DIR_STORAGES[res["storage"]]
        if isinstance(res.get("prune-backups"), dict):
            res["prune-backups"] = pve_schema.print_property_string(res["prune-backups"])
        for key in ("mailto", "exclude-path"):
            if isinstance(res.get(key), list):
                res[key] = ",".join(res[key])
        if not caller.has("Sys.Audit", f"/nodes/{node}"):
            for key in NODE_AUDIT_ONLY:
                res.pop(key, None)
        return pve_job_files.json_safe(res)

    # --- POST /nodes/{node}/vzdump ----------------------------------------

    def check_vzdump(self, node, params, caller):
        """Everything PVE checks before it forks the worker. Returns what the
        call answers: a UPID, or "OK" when no guest of the run is on NODE."""
        node = self.resolve(node)
        given = dict(params)
        given.pop("node", None)
        props = dict(self.vzdump_props, node=self.schema.put_props["node"])
        param = self.schema.check_params_with(props, dict(given, node=node))
        if truthy(param.get("stdout")):
            raise pve_schema.param_error({"stdout": "option is only allowed on the command "
                                          "line interface."})
        if not caller.is_root:
            for key in ROOT_ONLY:
                if key in param:
                    raise pve_schema.param_error({key: "Only root may set this option."})
            if any(key in param for key in ("bwlimit", "ionice", "performance")):
                if not caller.has("Sys.Modify", "/"):
                    raise permission_denied("/", ["Sys.Modify"])
        pve_state.verify_vzdump_parameters(param, check_missing=True)
        local_vmids = self._local_vmids(node, param)
        if not local_vmids and not truthy(param.get("all")):
            return "OK"
        storage = param.get("storage")
        if storage and not caller.has("Datastore.AllocateSpace", f"/storage/{storage}"):
            raise permission_denied(f"/storage/{storage}", ["Datastore.AllocateSpace"])
        taskid = local_vmids[0] if len(local_vmids) == 1 else ""
        now = int(time.time())
        return (f"UPID:{node}:{os.getpid():08X}:{now & 0xFFFFFFFF:08X}:{now:08X}:vzdump:"
                f"{taskid}:{caller.id}:")

    def _local_vmids(self, node, param):
        """PVE::VZDump::get_included_guests, for NODE, from resources.json."""
        guests = [g for g in self.state.resources("vm")
                  if isinstance(g, dict) and g.get("vmid") is not None]
        if truthy(param.get("vmid")):
            wanted = set(pve_schema.split_list(param["vmid"]))
            chosen = [g for g in guests if str(g["vmid"]) in wanted]
            known = {str(g["vmid"]) for g in guests}
            # Unknown guests are kept to fail visibly in the worker.
            orphans = sorted(wanted - known, key=int)
        elif truthy(param.get("pool")):
            chosen = [g for g in guests if g.get("pool") == param["pool"]]
            orphans = []
        elif truthy(param.get("all")):
            excluded = set(pve_schema.split_list(param.get("exclude")))
            chosen = [g for g in guests if str(g["vmid"]) not in excluded]
            orphans = []
        else:
            chosen, orphans = [], []
        local = sorted((str(g["vmid"]) for g in chosen if g.get("node") == node), key=int)
        return local + orphans


def truthy(value):
    return pve_schema.truthy(value)
