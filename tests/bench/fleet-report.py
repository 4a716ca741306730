#!/usr/bin/env python3
"""Turns tests/bench/fleet's raw data into its tables (python3 stdlib only).

Input, in the raw directory given as the only argument:
  samples.tsv   METHOD N RUN WALL_US USER_S SYS_S MAXRSS_KB EXIT [HOSTS_CPU_US], one line per
                run; RUN 0 is the warmup and is never reported; HOSTS_CPU_US is the test hosts'
                own CPU during the command (nan or absent when unknown)
  product-form  `fleet` (the fleet CLI) or `per-host` (N single-host controllers: the fallback)
  installs.txt  one line per setup step and its time (not in any figure)
  notes, errors optional extra lines for the notes

Wall times are medians with the range (min-max) of the measured runs; CPU is user+sys of the
command's whole process tree and RSS the largest single process in it (GNU time), medians too.
Sizes are decimal (1 MB = 10^6 bytes), the stricter reading of the targets.
"""

import statistics
import sys
from pathlib import Path

JUDGED_N = 10
METHODS = ("product", "floor", "product-mux", "ssh-loop", "ansible")
# Wall-time ratios product/baseline and their targets (issue 8).
WALL_TARGETS = (
    ("floor", "agent over open ControlMasters (floor)", 1.15),
    ("ssh-loop", "parallel OpenSSH loop, ssh per unit", 0.15),
    ("ansible", "Ansible forks=10, systemd_service", 0.02),
)
CPU_TARGET_S = 0.5
RSS_TARGET_MB = 40.0


def load(raw: Path):
    """{(method, n): [(wall_s, cpu_s, rss_mb, exit, hosts_cpu_s)]} of the measured (non-warmup)
    runs; hosts_cpu_s is nan when unknown."""
    runs = {}
    for line in (raw / "samples.tsv").read_text().splitlines():
        method, n, run, wall_us, user, sys_, rss_kb, rc, *rest = line.split("\t")
        if int(run) == 0:
            continue
        cpu = float(user) + float(sys_)
        rss = float(rss_kb) * 1024 / 1e6
        hosts = float(rest[0]) / 1e6 if rest else float("nan")
        runs.setdefault((method, int(n)), []).append(
            (int(wall_us) / 1e6, cpu, rss, int(rc), hosts)
        )
    return runs


def ok(samples):
    return [s for s in samples if s[3] == 0]


def med(samples, i):
    vals = [s[i] for s in ok(samples) if s[i] == s[i]]  # not nan
    return statistics.median(vals) if vals else None


def fmt_wall(samples):
    good = ok(samples)
    if not good:
        return "n/a"
    walls = sorted(s[0] for s in good)
    m = statistics.median(walls)
    if len(walls) == 1:
        return f"{m * 1000:.0f} ms (1 run)"
    return f"{m * 1000:.0f} ms ({walls[0] * 1000:.0f}-{walls[-1] * 1000:.0f})"


def hosts_cpu(runs, n):
    """The hosts' own CPU under the product and under the floor, medians."""
    p, f = med(runs.get(("product", n), []), 4), med(runs.get(("floor", n), []), 4)
    if p is None or f is None:
        return "n/a"
    return f"{p:.2f} s / {f:.2f} s"


def table(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows
    )


def main() -> int:
    raw = Path(sys.argv[1])
    runs = load(raw)
    form = (raw / "product-form").read_text().strip()
    sizes = sorted({n for (_, n) in runs})
    judged = JUDGED_N if JUDGED_N in sizes else max(sizes)
    label = (
        "backup-orchestrator-ctl --inventory INV @fleetN (one process)"
        if form == "fleet"
        else "per-host processes (fleet CLI not yet available): N x `backup-orchestrator-ctl HOST` in the background"
    )
    print(f"product: {label}\n")

    p = runs.get(("product", judged), [])
    rows = [("figure", "product", "baseline", "ratio", "target", "verdict")]
    for method, what, target in WALL_TARGETS:
        b = runs.get((method, judged), [])
        pm, bm = med(p, 0), med(b, 0)
        ratio = pm / bm if pm is not None and bm else None
        rows.append((
            f"{judged} hosts, wall vs {what}",
            fmt_wall(p),
            fmt_wall(b),
            f"{ratio:.3f}" if ratio is not None else "n/a",
            f"≤{target}",
            "n/a" if ratio is None else ("PASS" if ratio <= target else "FAIL"),
        ))
    # What the wall time is made of: the product over the floor's masters (no login timed) and
    # the hosts' own CPU. Figures to read the floor ratio by, not targets.
    floor = runs.get(("floor", judged), [])
    mux = runs.get(("product-mux", judged), [])
    pm, mm, fm = med(p, 0), med(mux, 0), med(floor, 0)
    rows.append((
        f"{judged} hosts, wall over the floor's ControlMasters (--transport openssh) vs floor",
        fmt_wall(mux),
        fmt_wall(floor),
        f"{mm / fm:.3f}" if mm is not None and fm else "n/a",
        "(what the fleet adds without SSH logins)",
        "info",
    ))
    ph, fh = med(p, 4), med(floor, 4)
    rows.append((
        f"{judged} hosts, the test hosts' own CPU (all processes) vs floor",
        "n/a" if ph is None else f"{ph:.2f} s",
        "n/a" if fh is None else f"{fh:.2f} s",
        f"{ph / fh:.3f}" if ph is not None and fh else "n/a",
        "n/a" if ph is None or fh is None else f"(+{(ph - fh) * 1000 / judged:.0f} ms per host: logins)",
        "info",
    ))
    cpu, rss = med(p, 1), med(p, 2)
    floor_cpu = med(floor, 1)
    rows.append((
        f"{judged} hosts, controller CPU (user+sys)",
        f"{cpu:.2f} s" if cpu is not None else "n/a",
        "n/a" if floor_cpu is None else f"{floor_cpu:.2f} s (floor's ssh)",
        "",
        f"≤{CPU_TARGET_S} s",
        "n/a" if cpu is None else ("PASS" if cpu <= CPU_TARGET_S else "FAIL"),
    ))
    rows.append((
        f"{judged} hosts, controller peak RSS",
        f"{rss:.1f} MB" if rss is not None else "n/a",
        "—",
        "",
        f"<{RSS_TARGET_MB:.0f} MB",
        "n/a" if rss is None else ("PASS" if rss < RSS_TARGET_MB else "FAIL"),
    ))
    print(table(rows))

    print("\ngrowth with N (wall: median (min-max); CPU user+sys and largest-process RSS: medians)\n")
    rows = [("N", "product wall", "product CPU", "product RSS", "floor wall", "over masters wall",
             "hosts' CPU product/floor", "OpenSSH loop wall", "loop CPU", "Ansible wall",
             "Ansible CPU")]
    for n in sizes:
        def cell(method, i, unit):
            v = med(runs.get((method, n), []), i)
            return "n/a" if v is None else f"{v:.2f} {unit}" if unit == "s" else f"{v:.1f} {unit}"
        rows.append((
            str(n),
            fmt_wall(runs.get(("product", n), [])),
            cell("product", 1, "s"),
            cell("product", 2, "MB"),
            fmt_wall(runs.get(("floor", n), [])),
            fmt_wall(runs.get(("product-mux", n), [])),
            hosts_cpu(runs, n),
            fmt_wall(runs.get(("ssh-loop", n), [])),
            cell("ssh-loop", 1, "s"),
            fmt_wall(runs.get(("ansible", n), [])),
            cell("ansible", 1, "s"),
        ))
    print(table(rows))

    counts = ", ".join(
        f"{m} {len(runs.get((m, judged), []))}" for m in METHODS
    )
    print(f"\nnote: measured runs at N={judged}: {counts} (product, floor and product-mux after 1 warmup each); "
          "wall = $EPOCHREALTIME around GNU time, from the command to its exit after the last verdict")
    if form != "fleet":
        print("note: product RSS is the largest of the N controller processes, CPU the sum of all N: "
              "the fleet CLI's one process will replace them")
    print("note: over masters = the product with --transport openssh over the floor's masters (no login "
          "timed, as in the floor); hosts' CPU = user+sys of every process of the N test hosts during "
          "the command and 0.3 s after it (their cgroups), which share this machine's cores with it")
    print("note: floor = N parallel `ssh HOST sudo -n backup-orchestrator --yes --quiet` over masters opened "
          "before the timing; OpenSSH loop = tests/bench/baseline-ssh.sh per host in the background "
          "(a fresh ssh per unit); Ansible = fleet-playbook.yml, forks=10, cold ControlPersist per run, "
          "no fact gathering")
    for name in ("installs.txt", "notes"):
        f = raw / name
        if f.exists():
            for line in f.read_text().splitlines():
                print(f"note: {line}")
    errors = raw / "errors"
    if errors.exists():
        for line in errors.read_text().splitlines():
            print(f"error: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
