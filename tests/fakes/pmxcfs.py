#!/usr/bin/python3
"""The emulated node's files around the backup jobs: the pmxcfs tree that
ROOT plays (/etc/pve) and the node-local /etc/vzdump.conf.

  ROOT/.members               the cluster as pmxcfs shows it (see members())
  ROOT/nodes/<node>/          one folder per node; root on any node writes there
  ROOT/local                  symlink to nodes/<this node>, as on PVE
  ROOT/priv/                  mode 0700; ROOT/priv/lock/<name> are cluster locks
                              (mkdir takes one, rmdir releases it)
  ROOT/node-etc/vzdump.conf   this node's /etc/vzdump.conf (not pmxcfs): PVE's
                              shipped default, every key commented out, unless
                              a test wrote its own (--vzdump-conf moves it)
  ROOT/no-quorum              while it exists /etc/pve is read-only: the fakes
                              refuse writes, and nodes/ and priv/ refuse them
                              at the file system (see set_quorum())

Command line, for tests that need the tree without a server:
  pmxcfs.py init    --root ROOT [--node N] [--vzdump-conf FILE]
  pmxcfs.py members --root ROOT [--node N] [--cluster NAME --nodes a,b,c
                    [--offline b] [--no-quorate]]
  pmxcfs.py quorum  --root ROOT on|off
"""

import array
import fcntl
import json
import os
import stat
import sys

DEFAULT_NODE = "pve1"
VZDUMP_CONF = os.path.join("node-etc", "vzdump.conf")
NO_QUORUM = "no-quorum"
# The folders whose writes need quorum (the fakes check ROOT/no-quorum for
# jobs.cfg and vzdump.cron themselves).
QUORUM_TREES = ("nodes", "priv")

# pve-manager configs/vzdump.conf as PVE 8 and 9 ship it.
SHIPPED_VZDUMP_CONF = """# vzdump default settings

#tmpdir: DIR
#dumpdir: DIR
#storage: STORAGE_ID
#mode: snapshot|suspend|stop
#bwlimit: KBPS
#performance: [max-workers=N][,pbs-entries-max=N]
#ionice: PRI
#lockwait: MINUTES
#stopwait: MINUTES
#stdexcludes: BOOLEAN
#mailto: ADDRESSLIST
#prune-backups: keep-INTERVAL=N[,...]
#script: FILENAME
#exclude-path: PATHLIST
#pigz: N
#notes-template: {{guestname}}
#pbs-change-detection-mode: legacy|data|metadata
#fleecing: enabled=BOOLEAN,storage=STORAGE_ID
"""

# linux/fs.h: FS_IOC_GETFLAGS, FS_IOC_SETFLAGS (64-bit) and FS_IMMUTABLE_FL.
FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_IMMUTABLE_FL = 0x00000010


def vzdump_conf_path(root, override=None):
    return override or os.path.join(root, VZDUMP_CONF)


def members(node, cluster=None, nodes=(), offline=(), quorate=True, version=1):
    """/etc/pve/.members: the standalone form without CLUSTER, else the cluster form."""
    if cluster is None:
        return {"nodename": node, "version": version}
    nodelist = {}
    for number, name in enumerate(nodes, start=1):
        nodelist[name] = {"id": number, "online": 0 if name in offline else 1,
                          "ip": f"192.0.2.{number}"}
    return {"nodename": node, "version": version,
            "cluster": {"name": cluster, "version": len(nodes), "nodes": len(nodes),
                        "quorate": 1 if quorate else 0},
            "nodelist": nodelist}


def read_members(root):
    """The parsed .members, or None when it is missing or not JSON."""
    try:
        with open(os.path.join(root, ".members"), encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def cluster_nodes(root, default_node):
    """(this node, {node: online}) from .members."""
    value = read_members(root) or {}
    node = value.get("nodename") if isinstance(value.get("nodename"), str) else default_node
    found = {node: True}
    nodelist = value.get("nodelist")
    if isinstance(nodelist, dict):
        for name, info in nodelist.items():
            found[name] = bool(isinstance(info, dict) and info.get("online"))
    return node, found


def write_file(path, text):
    temp = f"{path}.tmp.{os.getpid()}"
    with open(temp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(temp, path)


def init_tree(root, node=DEFAULT_NODE, vzdump_conf=None):
    """Creates whatever of the tree is missing; never changes what a test wrote."""
    os.makedirs(os.path.join(root, "nodes", node), exist_ok=True)
    if not os.path.isdir(os.path.join(root, "priv")):
        os.makedirs(os.path.join(root, "priv"), mode=0o700)
    os.makedirs(os.path.join(root, "priv", "lock"), exist_ok=True)
    local = os.path.join(root, "local")
    if not os.path.lexists(local):
        os.symlink(os.path.join("nodes", node), local)
    if not os.path.exists(os.path.join(root, ".members")):
        write_file(os.path.join(root, ".members"), json.dumps(members(node)) + "\n")
    conf = vzdump_conf_path(root, vzdump_conf)
    if not os.path.exists(conf):
        os.makedirs(os.path.dirname(conf), exist_ok=True)
        write_file(conf, SHIPPED_VZDUMP_CONF)


def quorate(root):
    return not os.path.exists(os.path.join(root, NO_QUORUM))


def _make_read_only(path, read_only):
    """chattr +i for root (the only read-only mode that holds for root),
    else the write bits."""
    if os.geteuid() != 0:
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        os.chmod(path, mode & ~0o222 if read_only else mode | stat.S_IWUSR)
        return
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        flags = array.array("l", [0])
        fcntl.ioctl(fd, FS_IOC_GETFLAGS, flags, True)
        if read_only:
            flags[0] |= FS_IMMUTABLE_FL
        else:
            flags[0] &= ~FS_IMMUTABLE_FL
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, flags, True)
    finally:
        os.close(fd)


def _quorum_paths(root):
    """Every folder and file of the quorum trees."""
    paths = []
    for tree in QUORUM_TREES:
        top = os.path.join(root, tree)
        if not os.path.isdir(top):
            continue
        paths.append(top)
        for folder, dirs, files in os.walk(top):
            paths.extend(os.path.join(folder, name) for name in dirs + files
                         if not os.path.islink(os.path.join(folder, name)))
    return paths


def set_quorum(root, on):
    """Without quorum: ROOT/no-quorum exists, .members of a cluster says
    "quorate": 0, and nodes/ and priv/ refuse every write. With quorum: all
    undone. The switch comes first when
    writes stop and goes last when they resume."""
    switch = os.path.join(root, NO_QUORUM)
    if not on:
        with open(switch, "w", encoding="ascii"):
            pass
    value = read_members(root)
    if value is not None and isinstance(value.get("cluster"), dict):
        value["cluster"]["quorate"] = 1 if on else 0
        write_file(os.path.join(root, ".members"), json.dumps(value) + "\n")
    for path in _quorum_paths(root):
        _make_read_only(path, not on)
    if on:
        try:
            os.unlink(switch)
        except FileNotFoundError:
            pass


def parse_args(argv):
    import argparse  # pylint: disable=import-outside-toplevel
    parser = argparse.ArgumentParser(description="The emulated node's pmxcfs tree.")
    parser.add_argument("command", choices=["init", "members", "quorum"])
    parser.add_argument("state", nargs="?", choices=["on", "off"], help="quorum on or off")
    parser.add_argument("--root", required=True, help="folder that plays /etc/pve")
    parser.add_argument("--node", default=DEFAULT_NODE, help="this node's name")
    parser.add_argument("--vzdump-conf", help="file that plays /etc/vzdump.conf")
    parser.add_argument("--cluster", help="cluster name; without it, a standalone node")
    parser.add_argument("--nodes", default="", help="the cluster's nodes, comma-separated")
    parser.add_argument("--offline", default="", help="nodes that are offline, comma-separated")
    parser.add_argument("--no-quorate", action="store_true", help="the cluster has no quorum")
    args = parser.parse_intermixed_args(argv)
    if args.command == "quorum" and args.state is None:
        parser.error("quorum needs on or off")
    return args


def main(argv):
    args = parse_args(argv)
    try:
        if args.command == "init":
            init_tree(args.root, args.node, args.vzdump_conf)
        elif args.command == "members":
            nodes = [n for n in args.nodes.split(",") if n] or [args.node]
            value = members(args.node, args.cluster, nodes,
                            [n for n in args.offline.split(",") if n], not args.no_quorate)
            write_file(os.path.join(args.root, ".members"), json.dumps(value) + "\n")
        else:
            set_quorum(args.root, args.state == "on")
    except OSError as e:
        print(f"pmxcfs.py {args.command}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    sys.exit(main(sys.argv[1:]))
