"""Real servers for portkit's tests and benchmarks.

Each class starts one real daemon (nginx, dnsmasq, OpenSSH, Redis,
memcached, Exim, vsftpd, Dovecot, chrony, net-snmp, tftpd-hpa, MariaDB,
PostgreSQL) with a private configuration in a temporary directory, either
inside a test namespace (pktest.Netns) or on loopback, and stops it by its
PID. Nothing here emulates a protocol: the bytes a test sees are the ones
the real daemon sends. The only non-daemon is Listener, a bare socket
holder (tests/lib/pk_listener.py) for "something listens on this port".

    import pktest, servers
    with pktest.Netns("bnsrv", 50) as ns:
        with servers.Nginx(ns, tls_port=443) as web, servers.Sshd(ns) as ssh:
            ...  # web.addr, web.ports["http"], ssh.port, ssh.pid

    with servers.Redis(None) as r:          # loopback, free port chosen
        connect to (r.addr, r.port)

Where daemons listen: inside a namespace on the namespace's own addresses
(ns.ip, ns.ip6) or, for daemons that take a single address, on the
namespace's wildcard (which only exists inside that namespace); on loopback
on 127.0.0.1 only. Never on the root namespace's other addresses.

Lifetime: start() returns once the daemon's sockets are listening (checked
with ss in the right namespace) and raises ServerError with the daemon's
log if it exits or does not listen within `timeout`. stop() sends SIGTERM
to the process group the daemon was started in (its own session, whose id
is the daemon's PID), waits, then SIGKILLs that group, and removes the
temporary directory. Daemons that drop privileges get files they can read.
"""
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

LIB_DIR = os.path.dirname(os.path.abspath(__file__))


class ServerError(RuntimeError):
    pass


def free_port(kind=socket.SOCK_STREAM, addr="127.0.0.1"):
    """A port the kernel says is free on loopback now (for loopback servers;
    inside a namespace every port is free)."""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(fam, kind) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def free_port_both(addr="127.0.0.1"):
    """A port free for TCP and UDP at once (memcached, dnsmasq)."""
    for _ in range(50):
        p = free_port(socket.SOCK_STREAM, addr)
        try:
            with socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET,
                               socket.SOCK_DGRAM) as u:
                u.bind((addr, p))
            return p
        except OSError:
            continue
    raise ServerError("no port free for both TCP and UDP")


def listening_sockets(ns, pids):
    """(proto, local address, port) of every listening socket owned by one
    of pids, as ss sees it in ns (None = this namespace)."""
    cmd = ["ss", "-Hlntup"]
    if ns is not None:
        cmd = ["ip", "netns", "exec", ns.name, *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    res = []
    for line in out.splitlines():
        f = line.split()
        if len(f) < 7 or not any(f"pid={p}," in f[-1] for p in pids):
            continue
        local = f[4]
        addr, _, port = local.rpartition(":")
        addr = addr.strip("[]").split("%")[0]
        res.append((f[0], addr, int(port)))
    return res


def group_pids(pgid):
    """PIDs whose process group is pgid (the daemon and its children)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[2]) == pgid:
            pids.append(int(d))
    return pids


class Server:
    """Base: subclasses set `name`, fill self.listens (list of (proto, port))
    and implement argv(); optional prepare() writes configuration files."""

    name = "server"
    default_port = 0
    protos = ("tcp",)
    stop_signal = signal.SIGTERM

    def __init__(self, ns=None, port=None, host=None, timeout=15.0, **opts):
        self.ns = ns
        self.opts = opts
        self.timeout = timeout
        if ns is not None:
            self.addrs = [ns.ip] + ([ns.ip6] if ns.v6 else [])
        else:
            self.addrs = [host or "127.0.0.1"]
        self.addr = self.addrs[0]
        if port is None:
            if ns is not None:
                port = self.default_port
            elif len(self.protos) > 1:
                port = free_port_both(self.addr)
            else:
                port = free_port(socket.SOCK_STREAM if self.protos[0] == "tcp" else socket.SOCK_DGRAM,
                                 self.addr)
        self.port = port
        self.ports = {self.name: port}
        self.listens = [(p, port) for p in self.protos]
        self.proc = None
        self.dir = None
        self.log_path = None

    # --- to override -------------------------------------------------------
    def prepare(self):
        pass

    def argv(self):
        raise NotImplementedError

    def env(self):
        return None

    # --- lifecycle ---------------------------------------------------------
    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def in_ns(self):
        return self.ns is not None

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def start(self):
        self.dir = tempfile.mkdtemp(prefix=f"pk-srv-{self.name}-")
        os.chmod(self.dir, 0o755)  # daemons that drop privileges read their config here
        self.log_path = self.path("stdio.log")
        try:
            self.prepare()
            argv = self.argv()
            if self.ns is not None:
                argv = ["ip", "netns", "exec", self.ns.name, *argv]
            env = dict(os.environ)
            env.update(self.env() or {})
            with open(self.log_path, "wb") as log:
                # A session of its own: its id is the daemon's PID, so stop()
                # can end the daemon and its children and nothing else.
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True,
                                             env=env, cwd=self.dir)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + self.timeout
        pending = set(self.listens)
        while True:
            if self.proc.poll() is not None:
                raise ServerError(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            # Only sockets owned by the daemon count: another process holding
            # the port must not pass for a started server.
            mine = {(p, port) for p, _, port in listening_sockets(self.ns, self.pids())}
            pending -= mine
            if not pending:
                return
            if time.monotonic() > deadline:
                raise ServerError(f"{self.name} not listening on {sorted(pending)} after "
                                  f"{self.timeout}s: {self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, n=2000):
        text = ""
        for p in [self.log_path] + self.extra_logs():
            try:
                with open(p, "rb") as f:
                    text += f.read()[-n:].decode("utf-8", "replace")
            except (OSError, TypeError):
                pass
        return text.strip()

    def extra_logs(self):
        return []

    def stop(self):
        if self.proc is not None:
            pgid = self.proc.pid
            if self.proc.poll() is None or group_pids(pgid):
                try:
                    os.killpg(pgid, self.stop_signal)
                except ProcessLookupError:
                    pass
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
                end = time.monotonic() + 3
                while group_pids(pgid) and time.monotonic() < end:
                    time.sleep(0.05)
                if group_pids(pgid):
                    try:
                        os.killpg(pgid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def pids(self):
        return group_pids(self.proc.pid) if self.proc else []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return f"<{type(self).__name__} {self.addr} {self.ports} pid={self.pid}>"


def _write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def _chown_tree(path, user):
    import pwd
    pw = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for n in files:
            os.chown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)


def self_signed_cert(directory, cn="portkit.test"):
    """Writes cert.pem and key.pem (P-256, one day) with openssl; returns paths."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", f"/CN={cn}",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def _v6(addr):
    return ":" in addr


class Nginx(Server):
    """nginx serving a small static site over HTTP and, with tls_port (or
    tls=True), HTTPS with a fresh self-signed certificate; tls_protocols
    picks the versions ("TLSv1.2" alone to test a 1.2-only server).
    ports: {"http", "https"}."""
    name = "nginx"
    default_port = 80

    def __init__(self, ns=None, port=None, tls_port=None, tls_protocols="TLSv1.2 TLSv1.3", **kw):
        super().__init__(ns, port, **kw)
        self.tls_protocols = tls_protocols
        self.ports = {"http": self.port}
        if tls_port is None and kw.get("tls"):
            tls_port = 443 if ns is not None else free_port(addr=self.addr)
        if tls_port:
            self.ports["https"] = tls_port
            self.listens.append(("tcp", tls_port))
        self.tls_port = tls_port

    def prepare(self):
        os.makedirs(self.path("www"))
        _write(self.path("www", "index.html"), "<html><body>portkit test site</body></html>\n")
        listen = ""
        for a in self.addrs:
            host = f"[{a}]" if _v6(a) else a
            listen += f"    listen {host}:{self.port};\n"
            if self.tls_port:
                listen += f"    listen {host}:{self.tls_port} ssl;\n"
        tls = ""
        if self.tls_port:
            cert, key = self_signed_cert(self.dir)
            tls = (f"    ssl_certificate {cert};\n    ssl_certificate_key {key};\n"
                   f"    ssl_protocols {self.tls_protocols};\n")
        d = self.dir
        _write(self.path("nginx.conf"), f"""daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
{listen}{tls}    root {d}/www;
  }}
}}
""")

    def argv(self):
        return ["nginx", "-p", self.dir, "-e", self.path("error.log"), "-c", self.path("nginx.conf")]

    def extra_logs(self):
        return [self.path("error.log")]


class Dnsmasq(Server):
    """dnsmasq answering DNS on UDP and TCP. Records: portkit.test A 192.0.2.1
    (a documentation address: nothing is ever sent to it), and whatever
    `records` adds ({"name": "1.2.3.4"}). tftp=True also serves TFTP on 69
    (namespaces only: dnsmasq's TFTP port is fixed)."""
    name = "dnsmasq"
    default_port = 53
    protos = ("tcp", "udp")

    def __init__(self, ns=None, port=None, records=None, tftp=False, **kw):
        super().__init__(ns, port, **kw)
        self.records = {"portkit.test": "192.0.2.1", **(records or {})}
        self.ports = {"domain": self.port}
        self.tftp = tftp
        if tftp:
            if ns is None:
                raise ServerError("dnsmasq TFTP needs a namespace (port 69 is fixed)")
            self.ports["tftp"] = 69
            self.listens.append(("udp", 69))

    def prepare(self):
        if self.tftp:
            os.makedirs(self.path("tftp"))
            _write(self.path("tftp", "hello.txt"), "hello from portkit's tftp test\n")

    def argv(self):
        a = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
             "--no-poll", "--bind-interfaces", f"--port={self.port}", "--user=root", "--group=root",
             f"--pid-file={self.path('dnsmasq.pid')}", "--log-facility=-"]
        for addr in self.addrs:
            a.append(f"--listen-address={addr}")
        for name, ip in self.records.items():
            a.append(f"--host-record={name},{ip}")
        if self.tftp:
            a += ["--enable-tftp", f"--tftp-root={self.path('tftp')}"]
        return a


class Sshd(Server):
    """OpenSSH's sshd with its own config and a fresh ed25519 host key,
    foreground (-D), logging to stderr (-e). No login is possible."""
    name = "ssh"
    default_port = 22

    def prepare(self):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.path("host_key")],
                       check=True, capture_output=True)
        # sshd's privilege-separation directory; Debian's service unit makes it.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        listen = "".join(f"ListenAddress {'[%s]' % a if _v6(a) else a}:{self.port}\n" for a in self.addrs)
        _write(self.path("sshd_config"), f"""{listen}HostKey {self.path('host_key')}
PidFile {self.path('sshd.pid')}
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication no
PermitRootLogin no
AuthorizedKeysFile none
""")

    def argv(self):
        return ["/usr/sbin/sshd", "-D", "-e", "-f", self.path("sshd_config")]


class Redis(Server):
    """redis-server, no persistence; password= makes it answer -NOAUTH."""
    name = "redis"
    default_port = 6379

    def argv(self):
        a = ["redis-server", "--port", str(self.port), "--bind", *self.addrs, "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--daemonize", "no", "--logfile", "",
             "--protected-mode", "no"]
        if self.opts.get("password"):
            a += ["--requirepass", self.opts["password"]]
        return a


class Memcached(Server):
    """memcached on TCP and (udp=True, the default) UDP on the same port."""
    name = "memcached"
    default_port = 11211

    def __init__(self, ns=None, port=None, udp=True, **kw):
        self.protos = ("tcp", "udp") if udp else ("tcp",)
        super().__init__(ns, port, **kw)
        self.udp = udp

    def argv(self):
        return ["memcached", "-p", str(self.port), "-U", str(self.port if self.udp else 0),
                "-l", ",".join(self.addrs), "-u", "nobody", "-m", "16", "-c", "256"]


class Exim(Server):
    """Exim 4 as an SMTP daemon in the foreground (-bdf) with Debian's stock
    configuration; -oX puts its listeners on our addresses and port only.
    Nothing is delivered: tests read the greeting and QUIT.

    With tls=True it runs on a configuration of its own (-C: as root Exim
    keeps its privileges for it) that offers STARTTLS with a fresh
    self-signed certificate for smtp.portkit.test, on its port and on
    submission_port (587 in a namespace), and TLS from the first byte on
    smtps_port (465), refusing every recipient.
    ports: {"smtp"[, "submission", "smtps"]}."""
    name = "smtp"
    default_port = 25

    def __init__(self, ns=None, port=None, tls=False, submission_port=None, smtps_port=None, **kw):
        super().__init__(ns, port, **kw)
        self.tls = tls
        if tls:
            self.ports["submission"] = submission_port or (587 if ns is not None else free_port(addr=self.addr))
            self.ports["smtps"] = smtps_port or (465 if ns is not None else free_port(addr=self.addr))
            self.listens += [("tcp", self.ports["submission"]), ("tcp", self.ports["smtps"])]

    def prepare(self):
        if not self.tls:
            return
        cert, key = self_signed_cert(self.dir, cn="smtp.portkit.test")
        os.chmod(key, 0o644)  # read by Exim's own user after it drops root; a throwaway key
        spool = self.path("spool")
        os.makedirs(spool)
        _chown_tree(spool, "Debian-exim")
        ports = (self.port, self.ports["submission"], self.ports["smtps"])
        ifaces = " ; ".join(f"{a}.{p}" for a in self.addrs for p in ports)
        _write(self.path("exim.conf"), f"""primary_hostname = smtp.portkit.test
spool_directory = {spool}
log_file_path = {spool}/%slog
keep_environment =
local_interfaces = <; {ifaces}
tls_advertise_hosts = *
tls_on_connect_ports = {self.ports["smtps"]}
tls_certificate = {cert}
tls_privatekey = {key}
acl_smtp_rcpt = refuse_all
begin acl
refuse_all:
  deny
""")

    def argv(self):
        if self.tls:
            return ["/usr/sbin/exim4", "-C", self.path("exim.conf"), "-bdf", "-oP", self.path("exim.pid")]
        ifaces = " ; ".join(f"{a}.{self.port}" for a in self.addrs)
        return ["/usr/sbin/exim4", "-bdf", "-oX", f"<; {ifaces}", "-oP", self.path("exim.pid")]

    def extra_logs(self):
        return [self.path("spool", "mainlog"), self.path("spool", "paniclog")] if self.tls else []


class Vsftpd(Server):
    """vsftpd, anonymous read-only on an empty root, passive mode off."""
    name = "ftp"
    default_port = 21

    def prepare(self):
        os.makedirs("/run/vsftpd/empty", mode=0o755, exist_ok=True)
        if self.in_ns:
            # vsftpd takes one address; inside a namespace the dual-stack
            # wildcard is the namespace's own addresses.
            where = "listen=NO\nlisten_ipv6=YES\n"
        elif _v6(self.addr):
            where = f"listen=NO\nlisten_ipv6=YES\nlisten_address6={self.addr}\n"
        else:
            where = f"listen=YES\nlisten_ipv6=NO\nlisten_address={self.addr}\n"
        _write(self.path("vsftpd.conf"), f"""{where}listen_port={self.port}
background=NO
anonymous_enable=YES
anon_root=/run/vsftpd/empty
no_anon_password=YES
local_enable=NO
write_enable=NO
pasv_enable=NO
secure_chroot_dir=/run/vsftpd/empty
xferlog_enable=NO
seccomp_sandbox=NO
vsftpd_log_file={self.path('vsftpd.log')}
""")

    def argv(self):
        return ["vsftpd", self.path("vsftpd.conf")]


class Dovecot(Server):
    """Dovecot serving IMAP and POP3, foreground; with tls=True also STARTTLS
    and IMAPS/POP3S (imaps_port, pop3s_port) with a self-signed certificate.
    ports: {"imap", "pop3"[, "imaps", "pop3s"]}; port= is IMAP's, pop3_port= POP3's."""
    name = "imap"
    default_port = 143

    def __init__(self, ns=None, port=None, pop3_port=None, tls=False, imaps_port=None, pop3s_port=None, **kw):
        super().__init__(ns, port, **kw)
        if pop3_port is None:
            pop3_port = 110 if ns is not None else free_port(addr=self.addr)
        self.ports = {"imap": self.port, "pop3": pop3_port}
        self.listens.append(("tcp", pop3_port))
        self.tls = tls
        if tls:
            self.ports["imaps"] = imaps_port or (993 if ns is not None else free_port(addr=self.addr))
            self.ports["pop3s"] = pop3s_port or (995 if ns is not None else free_port(addr=self.addr))
            self.listens += [("tcp", self.ports["imaps"]), ("tcp", self.ports["pop3s"])]

    def prepare(self):
        d = self.dir
        listen = ", ".join(self.addrs)
        ssl = "no"
        if self.tls:
            cert, key = self_signed_cert(d, cn="mail.portkit.test")
            ssl = f"yes\nssl_cert = <{cert}\nssl_key = <{key}"
        _write(self.path("dovecot.conf"), f"""base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap pop3
listen = {listen}
ssl = {ssl}
disable_plaintext_auth = no
mail_location = maildir:{d}/mail/%u
passdb {{
  driver = static
  args = password=portkit-test
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {self.ports['imap']}
  }}
  inet_listener imaps {{
    port = {self.ports.get('imaps', 0)}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {self.ports['pop3']}
  }}
  inet_listener pop3s {{
    port = {self.ports.get('pop3s', 0)}
    ssl = yes
  }}
}}
""")

    def argv(self):
        return ["dovecot", "-F", "-c", self.path("dovecot.conf")]

    def extra_logs(self):
        return [self.path("dovecot.log")]


class Chrony(Server):
    """chronyd as an NTP server (local stratum 10) that never touches the
    clock (-x) and has no command port."""
    name = "ntp"
    default_port = 123
    protos = ("udp",)

    def prepare(self):
        binds = "".join(f"bindaddress {a}\n" for a in self.addrs)
        allows = "".join(f"allow {a}\n" for a in ("0.0.0.0/0", "::/0"))
        _write(self.path("chrony.conf"), f"""port {self.port}
{binds}cmdport 0
{allows}local stratum 10
pidfile {self.path('chronyd.pid')}
""")

    def argv(self):
        # Without -4/-6 chronyd also opens the other family's wildcard.
        fams = {"-6" if _v6(a) else "-4" for a in self.addrs}
        only = [fams.pop()] if len(fams) == 1 else []
        return ["chronyd", *only, "-d", "-x", "-f", self.path("chrony.conf"), "-u", "_chrony"]


class Snmpd(Server):
    """net-snmp's snmpd with community `public` (read-only) and a fixed
    sysDescr ("portkit test agent"), foreground, no system config files."""
    name = "snmp"
    default_port = 161
    protos = ("udp",)
    SYSDESCR = "portkit test agent"

    def prepare(self):
        _write(self.path("snmpd.conf"), f"""rocommunity public default
rocommunity6 public default
sysDescr {self.SYSDESCR}
sysName pk-test
""")
        os.makedirs(self.path("persist"))

    def env(self):
        return {"SNMP_PERSISTENT_DIR": self.path("persist"), "MIBS": "", "MIBDIRS": "/nonexistent"}

    def argv(self):
        where = ",".join(f"udp6:[{a}]:{self.port}" if _v6(a) else f"udp:{a}:{self.port}"
                         for a in self.addrs)
        # -I -smux: the SMUX module would listen on TCP 199 on every address.
        return ["snmpd", "-f", "-Lo", "-C", "-I", "-smux", "-c", self.path("snmpd.conf"), "-p",
                self.path("snmpd.pid"), where]


class Tftpd(Server):
    """tftpd-hpa's in.tftpd, read-only, serving hello.txt. Its replies come
    from a new port (RFC 1350), as every TFTP server's do."""
    name = "tftp"
    default_port = 69
    protos = ("udp",)

    def prepare(self):
        os.makedirs(self.path("root"))
        _write(self.path("root", "hello.txt"), "hello from portkit's tftp test\n")

    def argv(self):
        a = self.addr if not _v6(self.addr) else f"[{self.addr}]"
        return ["in.tftpd", "-L", "-a", f"{a}:{self.port}", "-s", self.path("root"), "-u", "tftp"]


class MariaDB(Server):
    """MariaDB with a fresh data directory (mariadb-install-db), TCP only.
    Users exist only for localhost, so a client from elsewhere gets the
    real "Host ... is not allowed" error packet instead of a handshake."""
    name = "mysql"
    default_port = 3306

    def prepare(self):
        os.makedirs(self.path("data"))
        _chown_tree(self.dir, "mysql")
        r = subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.path('data')}",
                            "--user=mysql", "--auth-root-authentication-method=normal",
                            "--skip-test-db", "--skip-name-resolve"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise ServerError(f"mariadb-install-db failed: {r.stdout[-1000:]} {r.stderr[-1000:]}")

    def argv(self):
        return ["mariadbd", "--no-defaults", f"--datadir={self.path('data')}", "--user=mysql",
                f"--socket={self.path('mysqld.sock')}", f"--port={self.port}",
                "--bind-address=" + ",".join(self.addrs), "--skip-name-resolve",
                f"--pid-file={self.path('mysqld.pid')}",
                "--innodb-buffer-pool-size=8M", "--skip-log-bin", "--log-error=" + self.path("error.log")]

    def extra_logs(self):
        return [self.path("error.log")]


def _pg_bin(tool):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not found:
        raise ServerError(f"PostgreSQL's {tool} not found (install the postgresql package)")
    return found[-1]


class Postgres(Server):
    """PostgreSQL with a fresh cluster (initdb, trust auth), run as the
    postgres user; TCP on our addresses, its Unix socket in the temp dir."""
    name = "postgresql"
    default_port = 5432
    stop_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for clients

    def _as_postgres(self, argv):
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *argv]

    def prepare(self):
        _chown_tree(self.dir, "postgres")
        r = subprocess.run(self._as_postgres([_pg_bin("initdb"), "-D", self.path("data"), "-A", "trust",
                                              "--no-sync", "-U", "postgres"]),
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise ServerError(f"initdb failed: {r.stdout[-1000:]} {r.stderr[-1000:]}")

    def argv(self):
        return self._as_postgres([_pg_bin("postgres"), "-D", self.path("data"), "-p", str(self.port),
                                  "-k", self.dir, "-c", "listen_addresses=" + ",".join(self.addrs),
                                  "-c", "fsync=off", "-c", "shared_buffers=8MB"])


class Listener(Server):
    """Bare TCP/UDP sockets (tests/lib/pk_listener.py): tcp=[ports],
    udp=[ports]; banner= bytes sent on each accepted connection (a fixed
    greeting, i.e. an emulation: use the real daemons above for service
    identification), udp_reply= / udp_echo=True to answer datagrams."""
    name = "listener"

    def __init__(self, ns=None, tcp=(), udp=(), banner=None, udp_reply=None, udp_echo=False, **kw):
        tcp, udp = list(tcp), list(udp)
        if not tcp and not udp:
            raise ServerError("Listener needs tcp= or udp= ports")
        first_proto = "tcp" if tcp else "udp"
        self.protos = (first_proto,)
        super().__init__(ns, (tcp or udp)[0], **kw)
        self.listens = [("tcp", p) for p in tcp] + [("udp", p) for p in udp]
        self.ports = {"tcp": tcp, "udp": udp}
        self.banner, self.udp_reply, self.udp_echo = banner, udp_reply, udp_echo

    @staticmethod
    def _escape(b):
        if isinstance(b, str):
            b = b.encode()
        return b.decode("latin-1").encode("unicode_escape").decode("ascii")

    def argv(self):
        a = ["python3", os.path.join(LIB_DIR, "pk_listener.py")]
        for addr in self.addrs:
            a += ["--addr", addr]
        for proto, port in self.listens:
            a += [f"--{proto}", str(port)]
        if self.banner is not None:
            a += ["--banner", self._escape(self.banner)]
        if self.udp_reply is not None:
            a += ["--udp-reply", self._escape(self.udp_reply)]
        if self.udp_echo:
            a.append("--udp-echo")
        return a


ALL = {
    "nginx": Nginx, "dnsmasq": Dnsmasq, "sshd": Sshd, "redis": Redis, "memcached": Memcached,
    "exim": Exim, "vsftpd": Vsftpd, "dovecot": Dovecot, "chrony": Chrony, "snmpd": Snmpd,
    "tftpd": Tftpd, "mariadb": MariaDB, "postgres": Postgres, "listener": Listener,
}


def start(kind, ns=None, port=None, **opts):
    """start("nginx", ns, tls_port=443) → a started server; call .stop()."""
    return ALL[kind](ns, port, **opts).start()
