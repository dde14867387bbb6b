#!/usr/bin/env python3
"""The README's Slurm job array, run for real: a one-node Slurm cluster from
Debian's packages (munged, slurmctld and slurmd on this machine, with their
own configuration, keys, state and logs in a temporary directory), the
README's batch script submitted with sbatch against a test network in
namespaces, and the union of the shard outputs compared with one whole
run. Every daemon started here is stopped here, by PID."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import pktest
import scannet

BIG = scannet.BIG
NEEDED = ["munged", "mungekey", "slurmctld", "slurmd", "sbatch", "scontrol"]
MISSING = [t for t in NEEDED if not shutil.which(t)]


def readme_script():
    with open(os.path.join(pktest.SOURCE_DIR, "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"As a Slurm job array:\s*```sh\n(.*?)```", text, re.S)
    assert m, "README: the Slurm example is gone"
    return m.group(1)


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pktest.need_root
@unittest.skipIf(MISSING, f"needs Debian's slurm and munge packages (missing: {', '.join(MISSING)}; "
                          "scripts/deps/test/scan.list installs them)")
class SlurmArray(unittest.TestCase):
    def setUp(self):
        self.procs = []
        self.dir = tempfile.mkdtemp(prefix="pk-slurm-")
        self.t = scannet.Topo("slurm").__enter__()

    def tearDown(self):
        pktest.stop_procs(list(reversed(self.procs)), grace=10)
        self.t.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, argv, env):
        log = open(os.path.join(self.dir, os.path.basename(argv[0]) + ".out"), "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        log.close()
        self.procs.append(p)
        return p

    def logs(self):
        out = ""
        for n in sorted(os.listdir(self.dir)):
            if n.endswith((".log", ".out")):
                with open(os.path.join(self.dir, n), errors="replace") as f:
                    out += f"--- {n}\n{f.read()[-1500:]}\n"
        return out

    def test_readme_job_array(self):
        d = self.dir
        for sub in ("state", "spool", "run", "bin"):
            os.makedirs(os.path.join(d, sub))
        # The network: 3 live hosts with open ports, 2 empty addresses.
        live = [f"{BIG}.20.{i}" for i in (1, 2, 3)]
        self.t.add_hosts(live)
        self.t.listen([22, 80, 8080])
        with open(os.path.join(d, "targets.txt"), "w") as f:
            f.write("\n".join(live + [f"{BIG}.20.4", f"{BIG}.20.5"]) + "\n")
        # `portkit` in the job's PATH: the binary under test, run in the
        # scanner namespace (raw packets never leave the namespaces).
        wrapper = os.path.join(d, "bin", "portkit")
        with open(wrapper, "w") as f:
            f.write(f"#!/bin/sh\nexec ip netns exec {self.t.scanner} {pktest.PORTKIT} \"$@\"\n")
        os.chmod(wrapper, 0o755)

        # munge: a fresh key and a socket of our own.
        key, sock = os.path.join(d, "munge.key"), os.path.join(d, "munge.sock")
        subprocess.run(["mungekey", "-c", "-k", key], check=True, capture_output=True)
        env = dict(os.environ, PATH=f"{d}/bin:" + os.environ.get("PATH", ""))
        self.start(["munged", "-F", "--force", f"--socket={sock}", f"--key-file={key}",
                    f"--pid-file={d}/munged.pid", f"--log-file={d}/munged.log",
                    f"--seed-file={d}/munge.seed"], env)
        wait_for(lambda: os.path.exists(sock), 10, "munged")

        host = socket.gethostname().split(".")[0]
        port = 16817 + 10 * pktest.SLOT
        conf = os.path.join(d, "slurm.conf")
        with open(conf, "w") as f:
            f.write(f"""ClusterName=pktest{pktest.SLOT}
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={port}
SlurmdPort={port + 1}
AuthType=auth/munge
AuthInfo=socket={sock}
CryptoType=crypto/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/run/slurmctld.pid
SlurmdPidFile={d}/run/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
NodeName={host} NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=pk Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
        env["SLURM_CONF"] = conf
        self.start(["slurmctld", "-D", "-f", conf], env)
        self.start(["slurmd", "-D", "-f", conf, "-N", host], env)

        def node_idle():
            cp = subprocess.run(["scontrol", "show", "node", host], capture_output=True, text=True, env=env)
            return "State=IDLE" in cp.stdout
        try:
            wait_for(node_idle, 60, "the Slurm node")
        except AssertionError:
            raise AssertionError(self.logs())

        # The README's script, as written.
        script = os.path.join(d, "scan.sbatch")
        with open(script, "w") as f:
            f.write(readme_script())
        cp = subprocess.run(["sbatch", "--wait", "--chdir", d, "-o", f"{d}/job-%A_%a.out", script],
                            capture_output=True, text=True, env=env, timeout=600)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr + self.logs())

        shards = sorted(n for n in os.listdir(d) if re.fullmatch(r"shard-\d+\.json", n))
        self.assertEqual(len(shards), 8, os.listdir(d))
        union = []
        for n in shards:
            with open(os.path.join(d, n)) as f:
                union += [json.loads(line) for line in f if line.strip()]
        whole = self.t.portkit("scan", "-p-", "--seed", "42", "-iL", os.path.join(d, "targets.txt"),
                               "-oJ", "-", "--no-progress", timeout=300)
        want = {(r["host"], r["port"], r["state"]) for r in map(json.loads, whole.stdout.splitlines())}
        got = [(r["host"], r["port"], r["state"]) for r in union]
        self.assertEqual(len(got), len(set(got)), "a port reported by two shards")
        self.assertEqual(set(got), want)
        self.assertEqual(want, {(h, p, "open") for h in live for p in (22, 80, 8080)})


if __name__ == "__main__":
    pktest.main()
