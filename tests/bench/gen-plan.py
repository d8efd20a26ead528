#!/usr/bin/env python3
"""Write a valid drplan plan with N machines, for benchmarks.

    python3 tests/bench/gen-plan.py 10000 > /tmp/p10k.yaml     # about 4 MB
    python3 tests/bench/gen-plan.py --json 10000 > /tmp/p10k.json

Machines come in groups of --group-size (default 50), one /26 subnet per
group (59 usable addresses after Azure's 5 reserved ones), in one VNet
sized to hold them all. Every machine states its source facts (no inventory
needed) and a static IP; every group has a Lua hook (--hooks DIR, default
lua/hooks, + /health-check.lua, relative to where the plan is written: a
plan whose hook does not exist fails validation with PLAN-HOOK-MISSING) and
every fifth a manual step. The output is deterministic for the same
arguments.
"""
import argparse
import ipaddress
import json
import math
import sys

OSES = [
    ("windows", "Windows Server 2019", "bios"),
    ("windows", "Windows Server 2022", "uefi"),
    ("linux", "Ubuntu 20.04", "bios"),
    ("linux", "RHEL 8.6", "bios"),
]
# (size, vCPUs, GiB): the source gets the size's cores and 3/4 of its memory,
# leaving room for the 6% the Site Recovery driver takes.
SIZES = [("Standard_D2s_v4", 2, 8), ("Standard_D4s_v4", 4, 16),
         ("Standard_E4s_v3", 4, 32), ("Standard_E8s_v3", 8, 64)]


def plan(n, group_size, hooks="lua/hooks"):
    ngroups = max(1, math.ceil(n / group_size))
    # Each group gets a /26; the VNet is the smallest prefix holding them.
    bits = max(6, math.ceil(math.log2(ngroups * 64)))
    if bits > 24:
        sys.exit("gen-plan: too many machines for one 10.0.0.0/8 VNet")
    vnet = ipaddress.ip_network(f"10.0.0.0/{32 - bits}")
    subnets = list(vnet.subnets(new_prefix=26))[:ngroups]
    doc = {
        "apiVersion": "drplan/v1",
        "kind": "RecoveryPlan",
        "metadata": {
            "name": f"bench-{n}",
            "description": f"Generated benchmark plan with {n} machines",
            "owners": ["bench@example.com"],
        },
        "target": {"provider": "sim"},
        "defaults": {
            "recoveryPoint": "latest-processed",
            "shutdownSource": True,
            "concurrency": 10,
            "target": {"resourceGroup": "rg-bench-dr", "diskType": "Premium_LRS",
                       "network": {"vnet": "vnet-bench-dr"}},
        },
        "networks": [{
            "name": "vnet-bench-dr",
            "resourceGroup": "rg-bench-net",
            "location": "westeurope",
            "addressSpace": [str(vnet)],
            "subnets": [{"name": f"snet-{g:04d}", "prefix": str(s)}
                        for g, s in enumerate(subnets)],
        }],
        "machines": [],
        "groups": [],
    }
    for i in range(n):
        g, j = divmod(i, group_size)
        os_, ver, boot = OSES[i % len(OSES)]
        ip = subnets[g].network_address + 4 + j
        size, cpus, mem = SIZES[i % len(SIZES)]
        m = {
            "name": f"vm{i:05d}",
            "source": {
                "os": os_, "osVersion": ver, "boot": boot, "mobilityAgent": "9.56",
                "cpus": cpus, "memoryGiB": mem * 3 // 4,
                "disks": [
                    {"role": "os", "sizeGiB": 128,
                     "filesystem": "ntfs" if os_ == "windows" else "ext4"},
                    {"sizeGiB": 256 * (1 + i % 4),
                     "filesystem": "ntfs" if os_ == "windows" else "xfs"},
                ],
                "nics": [{"dhcp": False, "ip": f"192.168.{g % 256}.{10 + j}"}],
            },
            "target": {
                "size": size,
                "network": {"subnet": f"snet-{g:04d}"},
                "ip": str(ip),
            },
        }
        if i % 10 == 0:
            m["critical"] = False
        doc["machines"].append(m)
    for g in range(ngroups):
        members = [f"vm{i:05d}" for i in range(g * group_size, min(n, (g + 1) * group_size))]
        grp = {"name": f"group-{g:04d}", "machines": members,
               "post": [{"lua": f"{hooks}/health-check.lua", "timeout": "5m",
                         "on": ["drill", "failover"]}]}
        if g % 5 == 0:
            grp["pre"] = [{"manual": f"Confirm group {g} may fail over", "on": ["failover"]}]
        if g % 7 == 3 and g >= 2:
            grp["after"] = [f"group-{g - 1:04d}", f"group-{g - 2:04d}"]
        doc["groups"].append(grp)
    return doc


def scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    if s == "" or s[0] in "!&*-:?{}[],#|>@`\"'%" or ": " in s or " #" in s \
            or s in ("true", "false", "null", "~") or s.replace(".", "").isdigit():
        return json.dumps(s)
    return s


def flow(v):
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k}: {flow(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(flow(x) for x in v) + "]"
    return scalar(v)


def block(v, indent, out):
    pad = "  " * indent
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x and not small(x):
                out.append(f"{pad}{k}:")
                block(x, indent + 1, out)
            else:
                out.append(f"{pad}{k}: {flow(x)}")
    else:
        for x in v:
            if isinstance(x, dict) and not small(x):
                sub = []
                block(x, indent + 1, sub)
                sub[0] = pad + "- " + sub[0][len(pad) + 2:]
                out.extend(sub)
            else:
                out.append(f"{pad}- {flow(x)}")


def small(v):
    """Short collections go on one line, as people write them."""
    return len(flow(v)) <= 60 and not any(isinstance(x, (dict, list)) and x and
                                          isinstance(x, list) and len(x) > 4
                                          for x in (v.values() if isinstance(v, dict) else v))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("machines", type=int)
    ap.add_argument("--group-size", type=int, default=50)
    ap.add_argument("--json", action="store_true", help="write JSON instead of YAML")
    ap.add_argument("--hooks", default="lua/hooks",
                    help="directory of the hooks, relative to the plan file")
    a = ap.parse_args()
    if a.machines < 1 or not 1 <= a.group_size <= 59:
        ap.error("need at least 1 machine and a group size of 1 to 59")
    doc = plan(a.machines, a.group_size, a.hooks.rstrip("/"))
    if a.json:
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    out = ["# yaml-language-server: $schema=../schemas/recovery-plan.schema.json",
           f"# Generated by tests/bench/gen-plan.py {a.machines}; do not edit."]
    block(doc, 0, out)
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
