#!/usr/bin/env python3
"""Timeline of a bench-azure run from the ARM emulator's request log.

    DRPLAN_BENCH_LOG=1 DRPLAN_BENCH_CASE=latency build/tests/bench-azure ...
    python3 tests/bench/azure-timeline.py STATE/latency/armemu.jsonl

Per group of 100 machines (vm0001-vm0100 is g00): when its first request
arrived, the median time from a machine's first request to its failover
POST ("pre": the reads before the POST), the median time from the POST to
the poll that saw the job end ("run": ASR's job plus polling), and the
group's span. Then requests per machine by kind, the answer times the
emulator measured (the 20 ms delay included), and the concurrency reached:
requests in flight at the emulator, and failovers between POST and last
poll.
"""
import collections
import datetime
import json
import re
import sys


def ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def peak(intervals):
    ev = sorted([(s, 1) for s, e in intervals] + [(e, -1) for s, e in intervals])
    cur = best = 0
    for _, d in ev:
        cur += d
        best = max(best, cur)
    return best


def main(path):
    rows = [json.loads(line) for line in open(path)]
    guid2name, job2item, jobop = {}, {}, {}
    for r in rows:
        if r["method"] == "POST" and r.get("item"):
            m = re.search(r"replicationProtectedItems/([^/?]+)", r["path"])
            guid2name[m.group(1)] = r["item"]
            if r.get("job"):
                job2item[r["job"]] = r["item"]
                jobop[r["job"]] = r["op"]
    per = collections.defaultdict(lambda: collections.defaultdict(list))
    spans = []
    t0 = None
    for r in rows:
        end = ts(r["time"])
        start = end - r["ms"] / 1000.0
        spans.append((start, end))
        t0 = start if t0 is None or start < t0 else t0
        p = r["path"]
        m = re.search(r"replicationProtectedItems/([^/?]+)(/[^?]*)?", p)
        if m and m.group(1) in guid2name:
            sub = m.group(2) or ""
            kind = r["method"] + " " + ("item" if not sub else sub.split("/")[1])
            per[guid2name[m.group(1)]][kind].append((start, end))
        m = re.search(r"replicationJobs/([^/?]+)", p)
        if m and m.group(1) in job2item:
            per[job2item[m.group(1)]]["poll " + jobop[m.group(1)]].append((start, end))
    groups = collections.defaultdict(list)
    running = []
    for name, d in per.items():
        fo = d["POST unplannedFailover"][0]
        polls = d.get("poll unplanned-failover") or [fo]
        first = min(s for k, v in d.items() if "ommit" not in k for s, e in v)
        last = max(e for s, e in polls)
        running.append((fo[0], last))
        groups[(int(re.sub(r"\D", "", name)) - 1) // 100].append((first, fo[0], last))
    print("group  start s   pre (median)  run (median)  span")
    for g in sorted(groups):
        L = groups[g]
        f = min(x[0] for x in L)
        pre = sorted(x[1] - x[0] for x in L)[len(L) // 2]
        run = sorted(x[2] - x[1] for x in L)[len(L) // 2]
        print("g%02d   %7.2f   %7.3f s     %7.3f s    %6.3f s" %
              (g, f - t0, pre, run, max(x[2] for x in L) - f))
    tot = collections.Counter()
    for d in per.values():
        for k, v in d.items():
            tot[k] += len(v)
    for k, v in sorted(tot.items()):
        print("%-30s %6.2f per machine" % (k, v / len(per)))
    ms = sorted(r["ms"] for r in rows)
    print("answer time at the emulator: median %d ms, p90 %d ms, max %d ms" %
          (ms[len(ms) // 2], ms[int(len(ms) * 0.9)], ms[-1]))
    print("peak requests in flight %d; peak failovers running %d" %
          (peak(spans), peak(running)))


if __name__ == "__main__":
    main(sys.argv[1])
