#!/usr/bin/env python3
"""A bad link between two network namespaces, made by the test itself.

Two namespaces, "phone" and "relay", each with only a loopback and one
point-to-point interface, joined by a link that is slow (a rate limit),
long (a one-way delay), lossy (random packet loss) and cut now and then
(scheduled outages, and cuts on demand).  Addresses come from 198.18.0.0/15,
the range RFC 2544 sets aside for benchmarking: 198.18.0.1 is the relay's
side, 198.18.0.2 the phone's.  Nothing outside the two namespaces is
reachable from them, and nothing outside can reach them.

Two emulators, tried in this order:

- "netem": a veth pair with `tc qdisc ... netem delay D rate R loss L` on
  both ends (Linux's network emulator).  Cuts set `loss 100%`.
- "tun": where the kernel has no sch_netem ("Specified qdisc kind is
  unknown"), a packet-level stand-in for it: this process owns a TUN device
  in each namespace and forwards every IP packet between them itself, with
  netem's model: per direction a FIFO served at the rate (each packet is
  held len*8/rate seconds of serialisation after the one before it, so a
  burst queues as it would at a 2G base station), then the one-way delay,
  and independent random loss; packets are dropped while the link is cut
  (on entry and on delivery) and when the queue is full (64 packets, like a
  small modem buffer: netem's default 1000 would let TCP build a queue
  minutes long).

Use as a context manager from Python (tests/relay/test_weak_link.py,
bench/sync_2g.py):

    with Link(rate_bps=40000, rtt_ms=600, loss=0.03) as link:
        link.run_in("relay", [...])          # subprocess.Popen in a namespace
        link.cut(5.0)                         # an outage of 5 s, now
        link.stats()                          # bytes delivered each way

Needs root (namespaces); Link.available() says why not when it cannot run.
"""
import fcntl
import heapq
import os
import random
import select
import struct
import subprocess
import threading
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
RELAY_IP = "198.18.0.1"
PHONE_IP = "198.18.0.2"


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def _netns_works():
    name = "dcprobe%d" % os.getpid()
    r = _ip("netns", "add", name, check=False)
    if r.returncode != 0:
        return False, r.stderr.strip() or "ip netns add failed"
    _ip("netns", "del", name, check=False)
    return True, ""


def _netem_works():
    name = "dcprobe%d" % os.getpid()
    if _ip("netns", "add", name, check=False).returncode != 0:
        return False
    try:
        r = subprocess.run(["ip", "netns", "exec", name, "tc", "qdisc", "add", "dev", "lo", "root",
                            "netem", "delay", "1ms"], capture_output=True, text=True)
        return r.returncode == 0
    except FileNotFoundError:
        return False
    finally:
        _ip("netns", "del", name, check=False)


class Link:
    @staticmethod
    def available():
        """(True, emulator) or (False, why not)."""
        if os.geteuid() != 0:
            return False, "network namespaces need root"
        try:
            ok, why = _netns_works()
        except FileNotFoundError:
            return False, "no `ip` command (iproute2)"
        if not ok:
            return False, "cannot create a network namespace: " + why
        if _netem_works():
            return True, "netem"
        if not os.path.exists("/dev/net/tun"):
            return False, "no sch_netem in the kernel and no /dev/net/tun"
        return True, "tun"

    def __init__(self, rate_bps=40000, rtt_ms=600, loss=0.03, cut_every_s=0.0, cut_for_s=0.0,
                 seed=None, queue_packets=64, force=None):
        self.rate = float(rate_bps)
        self.delay = rtt_ms / 2000.0  # one way, seconds
        self.loss = loss
        self.cut_every = cut_every_s
        self.cut_for = cut_for_s
        self.qmax = queue_packets
        self.seed = seed if seed is not None else random.randrange(1 << 30)
        self.rng = random.Random(self.seed)
        tag = "%d%03d" % (os.getpid() % 100000, random.randrange(1000))
        self.ns = {"relay": "dcr" + tag, "phone": "dcp" + tag}
        self.dev = {"relay": "dct" + tag + "r", "phone": "dct" + tag + "p"}
        self.force = force
        self.emulator = None
        self.lock = threading.Lock()
        self.cut_until = 0.0
        self.t0 = 0.0
        self.delivered = {"up": 0, "down": 0}  # bytes of IP packets, phone->relay / relay->phone
        self.dropped = {"loss": 0, "cut": 0, "queue": 0}
        # How far behind its own schedule the TUN emulator delivered packets
        # (it is a user-space process: on a loaded machine it may lose the
        # CPU, and the link it emulates is then worse than asked for).
        self.late = {"max_s": 0.0, "over_50ms": 0}
        self.realtime = False  # the TUN emulator's thread runs SCHED_FIFO
        self.started = threading.Event()
        self.stop = False
        self.thread = None
        self.fds = {}
        self.cut_thread = None

    # ---- setup and teardown ----

    def __enter__(self):
        ok, kind = Link.available()
        if not ok:
            raise RuntimeError(kind)
        self.emulator = self.force or kind
        # The machine is shared: raise this process's priority (and so that
        # of the relay and phone it starts), so that what is measured is the
        # link's timing, not other work's turn on the CPU.
        try:
            os.setpriority(os.PRIO_PROCESS, 0, -10)
        except (PermissionError, OSError):
            pass
        for ns in self.ns.values():
            _ip("netns", "add", ns)
        try:
            if self.emulator == "netem":
                self._setup_netem()
            else:
                self._setup_tun()
        except Exception:
            self.__exit__(None, None, None)
            raise
        self.t0 = time.monotonic()
        if self.cut_every > 0 and self.cut_for > 0:
            self.cut_thread = threading.Thread(target=self._cutter, daemon=True)
            self.cut_thread.start()
        return self

    def __exit__(self, *exc):
        self.stop = True
        if self.thread:
            self.thread.join(timeout=5)
        if self.cut_thread:
            self.cut_thread.join(timeout=5)
        for fd in self.fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        for ns in self.ns.values():
            _ip("netns", "del", ns, check=False)
        return False

    def _in(self, side, *cmd):
        subprocess.run(["ip", "netns", "exec", self.ns[side], *cmd], check=True,
                       capture_output=True, text=True)

    def _addr(self, side, dev):
        me, peer = (RELAY_IP, PHONE_IP) if side == "relay" else (PHONE_IP, RELAY_IP)
        self._in(side, "ip", "link", "set", "lo", "up")
        self._in(side, "ip", "addr", "add", me, "peer", peer, "dev", dev)
        self._in(side, "ip", "link", "set", dev, "mtu", "1500", "up")

    def _setup_tun(self):
        for side in ("relay", "phone"):
            fd = os.open("/dev/net/tun", os.O_RDWR)
            ifr = struct.pack("16sH", self.dev[side].encode(), IFF_TUN | IFF_NO_PI)
            fcntl.ioctl(fd, TUNSETIFF, ifr)
            os.set_blocking(fd, False)
            self.fds[side] = fd
            # The device moves into the namespace; this process keeps the fd.
            _ip("link", "set", self.dev[side], "netns", self.ns[side])
            self._addr(side, self.dev[side])
        self.thread = threading.Thread(target=self._forward, daemon=True)
        self.thread.start()
        self.started.wait(10)

    def _setup_netem(self):
        r, p = self.dev["relay"], self.dev["phone"]
        _ip("link", "add", r, "type", "veth", "peer", "name", p)
        _ip("link", "set", r, "netns", self.ns["relay"])
        _ip("link", "set", p, "netns", self.ns["phone"])
        for side in ("relay", "phone"):
            dev = self.dev[side]
            self._in(side, "ip", "link", "set", "lo", "up")
            self._in(side, "ip", "addr", "add",
                     (RELAY_IP if side == "relay" else PHONE_IP) + "/30", "dev", dev)
            self._in(side, "ip", "link", "set", dev, "up")
            self._netem(side, "add", self.loss)

    def _netem(self, side, verb, loss):
        self._in(side, "tc", "qdisc", verb, "dev", self.dev[side], "root", "netem", "delay",
                 "%dms" % int(self.delay * 1000), "rate", "%dbit" % int(self.rate), "loss",
                 "%.2f%%" % (loss * 100), "limit", str(self.qmax))

    # ---- the link ----

    def is_cut(self, now=None):
        now = time.monotonic() if now is None else now
        with self.lock:
            return now < self.cut_until

    def cut(self, seconds):
        """Cuts the link now for `seconds` (both ways)."""
        with self.lock:
            self.cut_until = max(self.cut_until, time.monotonic() + seconds)
        if self.emulator == "netem":
            for side in ("relay", "phone"):
                self._netem(side, "change", 1.0)
            threading.Timer(seconds, self._netem_restore).start()

    def _netem_restore(self):
        if self.stop or self.is_cut():
            return
        for side in ("relay", "phone"):
            self._netem(side, "change", self.loss)

    def _cutter(self):
        """Scheduled outages: up cut_every seconds, then down cut_for."""
        while not self.stop:
            t = time.monotonic() + self.cut_every
            while not self.stop and time.monotonic() < t:
                time.sleep(0.05)
            if self.stop:
                break
            self.cut(self.cut_for)
            t = time.monotonic() + self.cut_for
            while not self.stop and time.monotonic() < t:
                time.sleep(0.05)

    def _forward(self):
        """The TUN emulator's loop: read, queue at the rate, delay, deliver."""
        # A real-time priority where the machine allows it (root, no
        # container policy against it; DC_LINK_RT=0 turns it off): the
        # emulator sleeps in select() between packets and does a few
        # microseconds of work for each, so it takes little CPU, but under
        # load a normal thread waits its turn for milliseconds to tens of
        # milliseconds at each wake-up, and every packet comes late.  With
        # SCHED_FIFO the link keeps its rate and delay on a loaded machine.
        if os.environ.get("DC_LINK_RT", "1") != "0":
            try:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
                self.realtime = True
            except (AttributeError, PermissionError, OSError):
                pass
        self.started.set()
        fds = self.fds
        other = {"relay": "phone", "phone": "relay"}
        busy_until = {"relay": 0.0, "phone": 0.0}  # serialisation, per sending side
        queued = {"relay": 0, "phone": 0}
        heap = []  # (deliver_at, seq, from_side, packet)
        seq = 0
        by_fd = {fds["relay"]: "relay", fds["phone"]: "phone"}
        while not self.stop:
            now = time.monotonic()
            timeout = 0.05
            if heap:
                timeout = max(0.0, min(timeout, heap[0][0] - now))
            r, _, _ = select.select(list(by_fd), [], [], timeout)
            now = time.monotonic()
            for fd in r:
                side = by_fd[fd]
                while True:
                    try:
                        pkt = os.read(fd, 65536)
                    except BlockingIOError:
                        break
                    except OSError:
                        return
                    if not pkt:
                        break
                    if self.is_cut(now):
                        self.dropped["cut"] += 1
                        continue
                    if queued[side] >= self.qmax:
                        self.dropped["queue"] += 1
                        continue
                    if self.rng.random() < self.loss:
                        self.dropped["loss"] += 1
                        continue
                    start = max(now, busy_until[side])
                    busy_until[side] = start + len(pkt) * 8.0 / self.rate
                    queued[side] += 1
                    seq += 1
                    heapq.heappush(heap, (busy_until[side] + self.delay, seq, side, pkt))
            while heap and heap[0][0] <= now:
                at, _, side, pkt = heapq.heappop(heap)
                queued[side] -= 1
                late = now - at
                if late > self.late["max_s"]:
                    self.late["max_s"] = late
                if late > 0.05:
                    self.late["over_50ms"] += 1
                if self.is_cut(now):
                    self.dropped["cut"] += 1
                    continue
                try:
                    os.write(fds[other[side]], pkt)
                except OSError:
                    continue
                self.delivered["up" if side == "phone" else "down"] += len(pkt)

    # ---- running things on either side ----

    def cmd(self, side, argv):
        return ["ip", "netns", "exec", self.ns[side], *argv]

    def run_in(self, side, argv, **kw):
        return subprocess.Popen(self.cmd(side, argv), **kw)

    def stats(self):
        return {"emulator": self.emulator, "bytes_up": self.delivered["up"],
                "bytes_down": self.delivered["down"], "dropped": dict(self.dropped),
                "late": dict(self.late)}

    def tcp_stats(self, side):
        """The TCP counters of one side's namespace (its own /proc/net): the
        retransmissions and timeouts that loss on the link caused."""
        p = subprocess.run(self.cmd(side, ["cat", "/proc/net/netstat", "/proc/net/snmp"]),
                           capture_output=True, text=True)
        out, lines = {}, p.stdout.splitlines()
        for names, values in zip(lines[::2], lines[1::2]):
            kind, names = names.split(":", 1)
            for k, v in zip(names.split(), values.split(":", 1)[1].split()):
                out[kind + k] = int(v)
        return {k: out.get(k, 0) for k in ("TcpRetransSegs", "TcpExtTCPTimeouts",
                                             "TcpExtTCPSynRetrans", "TcpExtTCPLossProbes")}

    def describe(self):
        d = "%s: %d kbit/s, %d ms RTT, %.0f %% loss" % (
            "netem" if self.emulator == "netem" else
            "packet-level TUN emulator (no sch_netem in this kernel)",
            self.rate / 1000, self.delay * 2000, self.loss * 100)
        if self.emulator == "tun":
            d += " [SCHED_FIFO]" if self.realtime else " [normal priority]"
        if self.cut_every:
            d += ", cut %.1f s every %.1f s" % (self.cut_for, self.cut_every + self.cut_for)
        return d + " (seed %d)" % self.seed
