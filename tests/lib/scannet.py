"""A scanner and a network to scan, both in namespaces this test creates.

Raw-socket scans (-sS, raw discovery) and firewall rules must never touch
the machine's own namespace, so the scanner runs in a namespace of its own:

    scanner ns  --veth--  target ns
    BIG.250.1/24          BIG.250.2/24 (an attached network: ARP works)
    fd00:BIG6:fa::1/64    fd00:BIG6:fa::2/64
    route BIG.0.0/16 via BIG.250.2; the target ns holds some of those
    addresses on its loopback (live hosts) and silently drops the rest
    (it does not forward), as a real network's empty addresses are silent.

BIG is 10.(200+PK_NETNS_SLOT): each checkout gets its own block.
"""
import os
import subprocess
import time

import pktest

BIG = f"10.{200 + pktest.SLOT}"
BIG6 = f"fd00:{200 + pktest.SLOT:x}"


class Topo:
    def __init__(self, tag):
        assert len(tag) <= 6
        slot = pktest.SLOT or ""
        self.scanner = f"pk{slot}-{tag}-s"
        self.target = f"pk{slot}-{tag}-t"
        self.veth_s = f"pk{slot}{tag}s"
        self.veth_t = f"pk{slot}{tag}t"
        self.s_ip, self.t_ip = f"{BIG}.250.1", f"{BIG}.250.2"
        self.s_ip6, self.t_ip6 = f"{BIG6}:fa::1", f"{BIG6}:fa::2"
        self.procs = []

    def __enter__(self):
        self.close()
        try:
            pktest.sh(f"ip netns add {self.scanner}")
            pktest.sh(f"ip netns add {self.target}")
            pktest.sh(f"ip link add {self.veth_s} netns {self.scanner} type veth peer name {self.veth_t} "
                      f"netns {self.target}")
            for ns, dev, ip, ip6 in ((self.scanner, self.veth_s, self.s_ip, self.s_ip6),
                                     (self.target, self.veth_t, self.t_ip, self.t_ip6)):
                pktest.sh(f"ip -n {ns} link set lo up")
                pktest.sh(f"ip -n {ns} addr add {ip}/24 dev {dev}")
                pktest.sh(f"ip -n {ns} -6 addr add {ip6}/64 dev {dev} nodad")
                pktest.sh(f"ip -n {ns} link set {dev} up")
            pktest.sh(f"ip -n {self.scanner} route add {BIG}.0.0/16 via {self.t_ip}")
            pktest.sh(f"ip -n {self.scanner} -6 route add {BIG6}:100::/56 via {self.t_ip6}")
        except Exception:
            self.close()
            raise
        return self

    def add_hosts(self, addrs):
        """Live hosts: addresses on the target's loopback."""
        batch = "".join(f"addr add {a}/{128 if ':' in a else 32} dev lo\n" for a in addrs)
        subprocess.run(["ip", "-n", self.target, "-batch", "-"], input=batch, text=True, check=True,
                       capture_output=True)

    def t_exec(self, cmd, **kw):
        return pktest.sh(f"ip netns exec {self.target} {cmd}", **kw)

    def s_exec(self, cmd, **kw):
        return pktest.sh(f"ip netns exec {self.scanner} {cmd}", **kw)

    def nft_target(self, rules):
        self.t_exec("nft -f -", input=rules)

    def listen(self, ports, addrs=("0.0.0.0",), v6=False):
        """Listens on ports in the target (every live address answers)."""
        argv = ["python3", os.path.join(pktest.SOURCE_DIR, "tests", "lib", "pk_listener.py"),
                "--lifetime", "900"]
        for a in addrs:
            argv += ["--addr", a]
        if v6:
            argv += ["--addr", "::"]
        for p in ports:
            argv += ["--tcp", str(p)]
        p = subprocess.Popen(["ip", "netns", "exec", self.target, *argv], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(p)
        time.sleep(0.6)
        return p

    def portkit(self, *args, timeout=120, env=None):
        """Runs portkit inside the scanner namespace."""
        e = dict(os.environ, NO_COLOR="1")
        e.pop("PORTKIT_REGISTRY", None)
        if env:
            e.update(env)
        return subprocess.run(["ip", "netns", "exec", self.scanner, pktest.PORTKIT, *map(str, args)],
                              capture_output=True, text=True, timeout=timeout, env=e)

    def popen_portkit(self, *args, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.scanner, pktest.PORTKIT, *map(str, args)],
                                env=dict(os.environ, NO_COLOR="1"), **kw)

    def close(self):
        pktest.stop_procs(self.procs, grace=5)
        self.procs = []
        pktest.sh(f"ip netns del {self.scanner}", check=False)
        pktest.sh(f"ip netns del {self.target}", check=False)

    def __exit__(self, *exc):
        self.close()
