"""portkit scan -sU against real hosts whose kernels ration ICMP
port-unreachable replies (Linux's default: one a second after a burst of
six, per peer). Two namespaces with dnsmasq, a UDP service that answers,
one that stays silent and DROPped ports: every state must match the truth
exactly (closed ports must not turn into open|filtered), and two hosts
scanned together take about as long as one."""
import random
import time
import unittest

import pktest
import scantest
import servers

HOSTS = [("sc-udp1", 40), ("sc-udp2", 41)]


@pktest.need_root
class ScanUdp(scantest.ServedHosts):
    @classmethod
    def serve(cls):
        for tag, idx in HOSTS:
            ns = cls.host(tag, idx)
            for srv in (servers.Dnsmasq(ns, port=53),
                        servers.Listener(ns, udp=[5001], udp_reply=b"portkit test reply\n"),
                        servers.Listener(ns, udp=[5002])):
                cls.servers.append(srv.start())
            scantest.nft_filter(ns, "udp dport { 7001, 7002 } drop")

    # 5 closed ports beyond the burst of six: about 5 s of ICMP pacing.
    PORTS = [53, 5001, 5002, 7001, 7002, *range(20, 31)]
    TRUTH = {53: "open", 5001: "open", 5002: "open|filtered", 7001: "open|filtered",
             7002: "open|filtered"}

    def truth(self):
        return {("udp", p): self.TRUTH.get(p, "closed") for p in self.PORTS}

    def test_states_exact_on_two_rationing_hosts(self):
        t = time.monotonic()
        cp, res = scantest.scan("-sU", "-p", ",".join(map(str, self.PORTS)),
                                *(ns.ip for ns in self.nss), timeout=180, check=0)
        took = time.monotonic() - t
        for ns in self.nss:
            got = scantest.states(res, ns.ip)
            self.assertEqual(got, self.truth(), f"{ns.ip}: {sorted(set(got.items()) ^ set(self.truth().items()))}")
        recs = {(k[0], k[2]): v for k, v in res.items()}
        for ns in self.nss:
            self.assertEqual(recs[(ns.ip, 53)][2]["service"], "domain")
            self.assertEqual(recs[(ns.ip, 53)][1], "udp-response")
            self.assertEqual(recs[(ns.ip, 20)][1], "port-unreach")
            self.assertIn("portkit test reply", recs[(ns.ip, 5001)][2]["banner"] or "")
        # 11 closed ports per host need ICMPs the host hands out one a
        # second after six: ~5 s; both hosts are paced at the same time.
        self.assertLess(took, 25, f"two hosts took {took:.1f} s")

    def test_ipv6(self):
        ns = self.nss[0]
        cp, res = scantest.scan("-sU", "-p", "53,5001,5002,7001,20-23", ns.ip6, timeout=120, check=0)
        want = {("udp", p): self.TRUTH.get(p, "closed") for p in (53, 5001, 5002, 7001, 20, 21, 22, 23)}
        self.assertEqual(scantest.states(res), want)


if __name__ == "__main__":
    pktest.main()
