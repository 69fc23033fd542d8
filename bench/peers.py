#!/usr/bin/env python3
"""bench/peers.py: drivercore measured against the CRDT libraries users would
pick instead (issue 11): Yrs through pycrdt, and Loro, both from PyPI at the
versions pinned in peers-requirements.txt.

One workload, identical for every engine: RECORDS driver records of eight
fields (strings, an integer, a boolean, a nullable string) and a set,
created in transactions of ten records (the population), then ASSIGNMENTS
field assignments in transactions of OPS_PER_TXN (the assignments), drawn
with a fixed seed.  peers.py writes it to a file once; every engine reads
that file before anything is timed.

drivercore writes through dc_txn_* (bench_peers_dc, a C program on the
public API).  A peer edits one document (a root map of records, each a
nested map; the set a nested map of members) and is made durable the way
its users do it: each transaction's update is appended to a SQLite table
(one row, one SQLite transaction) with the pragmas of drivercore's replica
(WAL, synchronous=NORMAL).  The peers are driven from Python; the loop that
feeds them is measured on its own (python_loop_ops_per_s) so that a reader
can see it is not what limits them.

Each phase of each engine runs in a fresh process, so that the process's
I/O counters and resident set belong to that engine alone:

  write   the population (untimed: it is also the warm-up), the file closed
          and reopened (the WAL checkpointed away), then the assignments,
          timed as one batch; the bytes the process wrote from the first
          assignment to the file's close; the file's size; the wire bytes of
          the assignments; the whole history as one sync message
          (drivercore: its bundle; Yrs: its state as an update; Loro: its
          updates from the empty version), and, for a peer, its log
          compacted into one row (Loro's snapshot, Yrs's state update)
  merge   that message applied to a fresh replica / document and made
          durable there (a peer appends it to a fresh log), timed
  memory  a fresh process opens the writer's file and reads one record: the
          growth of its peak resident set (and of its resident set) over
          the library loaded and initialised; a peer opens its update log,
          and again its compacted log

Each run measures every engine (their order rotating from run to run); the
rows give each engine's median over the runs, the median of the runs' own
ratios (drivercore over the peer, in that run), and the issue's target.
Every engine's state after writing and after merging is checked against the
state the workload implies; a mismatch stops the bench.

  peers.py [--quick] [--runs N] [--peers auto|none|yrs,loro] [--note TEXT]
           --dc PATH/TO/bench_peers_dc
  peers.py engine yrs|loro write|merge|memory ...   (one phase; internal)

One JSON object per line on stdout; progress on stderr.
"""
import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REQUIREMENTS = os.path.join(HERE, "peers-requirements.txt")

RECORDS = 10_000
ASSIGNMENTS = 100_000
OPS_PER_TXN = 100
RECORDS_PER_POPULATION_TXN = 10
SEED = 11
RUNS = 5

# drivercore's figures today, as this bench measured them on main at
# 1e9ae9e (docs/storage.md, "Measured against the peers"): the issue asks
# the redesign to keep the wire bytes and the memory no worse than these.
# The wire bytes are the same in every run (26.86); the memory moved between
# 1.32 and 1.53 MiB over the runs, so its target is 1.6 MiB.
TODAY_WIRE_BYTES_PER_OP = 26.86
TODAY_MEMORY_BYTES = 1_677_722

# The pragmas of drivercore's replica (docs/storage.md, "Opening").
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=OFF",
    "PRAGMA cache_size=-16384",
)

PEERS = ("yrs", "loro")
# What each run records of each engine, one entry per run.
PHASES = ("write", "merge", "memory", "memory_compacted")
MODULE = {"yrs": "pycrdt", "loro": "loro"}

# ---- the workload ----
#
# The file: a first line "drivercore-peers-workload 1"; then one operation
# per line, fields separated by tabs:
#   s ID FIELD KIND VALUE    set register FIELD of record ID
#   a ID FIELD KIND VALUE    add VALUE to set FIELD of record ID
# KIND is s (string), i (integer, decimal), b (boolean, 1 or 0) or n (null,
# VALUE empty); a line "c" commits the transaction the lines above it make;
# a line "--" ends the population (what follows is the assignments).
# No value holds a tab or a newline.

FIELDS = ("name", "id_hash", "hukou_region", "employer", "status", "branch", "trips",
          "verified")
SET_FIELD = "business_scope"
SCOPES = ("cold_chain", "construction_waste", "general_cargo", "hazardous", "container",
          "livestock", "express_parcels")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "红星建国志强海波明军伟华文斌永刚德胜云峰世昌光辉立新长江玉林家福"
CITIES = ("贵阳", "遵义", "安顺", "毕节", "铜仁", "六盘水", "凯里", "都匀", "兴义")
FIRMS = ("黔运", "顺达", "宏远", "安达", "通驰", "恒通", "鑫源", "畅行", "黔通", "远航")
SUFFIXES = ("物流有限公司", "运输有限公司", "货运部", "供应链管理有限公司", "汽车运输队")
STATUSES = ("masses", "masses", "masses", "applicant", "activist", "candidate",
            "probationary", "member")
COUNTIES = tuple(f"52{c:02d}{d:02d}" for c in (1, 2, 3, 4, 5, 6, 23, 26, 27) for d in range(1, 13))


def value_for(field, rng):
    """(kind, value) of a realistic value of FIELD."""
    if field == "name":
        return "s", rng.choice(SURNAMES) + "".join(rng.choice(GIVEN)
                                                   for _ in range(rng.randint(1, 2)))
    if field == "id_hash":
        return "s", f"{rng.getrandbits(256):064x}"
    if field == "hukou_region":
        return "s", rng.choice(COUNTIES)
    if field == "employer":
        if rng.random() < 0.15:
            return "s", "个体"
        return "s", rng.choice(CITIES) + rng.choice(FIRMS) + rng.choice(SUFFIXES)
    if field == "status":
        return "s", rng.choice(STATUSES)
    if field == "branch":
        if rng.random() < 0.6:
            return "n", None
        return "s", f"branch-{rng.choice(COUNTIES)}-{rng.randint(1, 9):02d}"
    if field == "trips":
        return "i", rng.randint(0, 20000)
    return "b", rng.random() < 0.5


def make_workload(records, assignments, seed):
    """(population, assignments): lists of transactions, each a list of
    (verb, id, field, kind, value)."""
    rng = random.Random(seed)
    ids = [f"drv-{rng.getrandbits(80):020x}" for _ in range(records)]
    population = []
    for i in range(0, records, RECORDS_PER_POPULATION_TXN):
        txn = []
        for rid in ids[i:i + RECORDS_PER_POPULATION_TXN]:
            for f in FIELDS:
                txn.append(("s", rid, f) + value_for(f, rng))
            for s in rng.sample(SCOPES, rng.randint(1, 3)):
                txn.append(("a", rid, SET_FIELD, "s", s))
        population.append(txn)
    assign = []
    for i in range(0, assignments, OPS_PER_TXN):
        txn = []
        for _ in range(min(OPS_PER_TXN, assignments - i)):
            f = rng.choice(FIELDS)
            txn.append(("s", rng.choice(ids), f) + value_for(f, rng))
        assign.append(txn)
    return population, assign


def encode_value(kind, value):
    if kind == "n":
        return ""
    if kind == "b":
        return "1" if value else "0"
    return str(value)


def write_workload(path, population, assign):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("drivercore-peers-workload 1\n")
        for phase, txns in ((0, population), (1, assign)):
            if phase:
                f.write("--\n")
            for txn in txns:
                for verb, rid, field, kind, value in txn:
                    f.write(f"{verb}\t{rid}\t{field}\t{kind}\t{encode_value(kind, value)}\n")
                f.write("c\n")


def read_workload(path):
    """The inverse of write_workload."""
    phases = [[], []]
    phase, txn = 0, []
    with open(path, encoding="utf-8") as f:
        if f.readline() != "drivercore-peers-workload 1\n":
            sys.exit(f"peers: {path} is not a workload file")
        for line in f:
            line = line.rstrip("\n")
            if line == "c":
                phases[phase].append(txn)
                txn = []
            elif line == "--":
                phase = 1
            else:
                verb, rid, field, kind, text = line.split("\t")
                if kind == "i":
                    value = int(text)
                elif kind == "b":
                    value = text == "1"
                else:
                    value = None if kind == "n" else text
                txn.append((verb, rid, field, kind, value))
    return phases[0], phases[1]


def expected_state(population, assign):
    """The records the workload leaves: one writer, so the last assignment
    of each field wins and every add stays."""
    state = {}
    for txn in population + assign:
        for verb, rid, field, _kind, value in txn:
            rec = state.setdefault(rid, {})
            if verb == "s":
                rec[field] = value
            else:
                rec.setdefault(field, set()).add(value)
    return normalise(state)


def normalise(state):
    """Records in one shape whatever the engine: sets as sorted lists (a peer
    keeps a set as a map of its members), integral floats as integers (Yrs
    keeps numbers as doubles), null registers left out (an engine may omit
    them), booleans tagged (Python holds True == 1)."""
    def value(v):
        if isinstance(v, bool):
            return ("bool", v)
        if isinstance(v, (dict, set, list)):
            return sorted(v)
        if isinstance(v, float) and v.is_integer():
            return int(v)
        return v
    return {rid: {f: value(v) for f, v in rec.items() if v is not None}
            for rid, rec in state.items()}


# ---- what the process itself reports ----

def proc_io(key):
    """A counter of /proc/self/io: "wchar" (bytes passed to write(2) and its
    kin) or "write_bytes" (bytes sent to the block layer, counted when a page
    first becomes dirty); -1 where the kernel does not provide it."""
    try:
        with open("/proc/self/io") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k == key:
                    return int(v)
    except OSError:
        pass
    return -1


def proc_mem(key):
    """VmRSS or VmHWM of this process, in bytes; -1 if absent."""
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k == key:
                return int(v.split()[0]) * 1024
    return -1


def reset_peak():
    """Resets VmHWM to the current resident set (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def db_size(path):
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


# ---- the peers ----

class Log:
    """A peer's durability: its updates appended to a SQLite table, one row
    and one SQLite transaction per update, with the replica's pragmas."""

    def __init__(self, path):
        self.con = sqlite3.connect(path, isolation_level=None)
        for p in PRAGMAS:
            self.con.execute(p).fetchall()
        self.con.execute("CREATE TABLE IF NOT EXISTS updates"
                         "(id INTEGER PRIMARY KEY, data BLOB NOT NULL)")

    def append(self, data):
        self.con.execute("INSERT INTO updates(data) VALUES (?)", (data,))

    def updates(self):
        return (row[0] for row in self.con.execute("SELECT data FROM updates ORDER BY id"))

    def close(self):
        self.con.close()


def by_record(txn):
    """The population's ops grouped by record: {id: (fields, set members)}."""
    recs = {}
    for verb, rid, field, _kind, value in txn:
        fields, members = recs.setdefault(rid, ({}, []))
        if verb == "s":
            fields[field] = value
        else:
            members.append(value)
    return recs


class Yrs:
    """Yrs through pycrdt: a root map "drivers" of nested maps; each
    transaction's update is what Doc.observe hands over at its end."""

    def __init__(self):
        import pycrdt
        self.pycrdt = pycrdt
        self.doc = pycrdt.Doc()
        self.root = self.doc.get("drivers", type=pycrdt.Map)
        self.pending = []
        self.sub = self.doc.observe(lambda event: self.pending.append(event.update))

    def populate(self, txn):
        Map = self.pycrdt.Map
        with self.doc.transaction():
            for rid, (fields, members) in by_record(txn).items():
                rec = dict(fields)
                rec[SET_FIELD] = Map({m: True for m in members})
                self.root[rid] = Map(rec)

    def assign(self, txn):
        root = self.root
        with self.doc.transaction():
            for _verb, rid, field, _kind, value in txn:
                root[rid][field] = value

    def take(self):
        out, self.pending = self.pending, []
        return out

    def full_update(self):
        return self.doc.get_update()

    def compacted(self):
        # Yrs has one encoding of a document's state: the update from nothing.
        return self.doc.get_update()

    def apply(self, update):
        self.doc.apply_update(update)

    def load(self, updates):
        with self.doc.transaction():
            for u in updates:
                self.doc.apply_update(u)

    def record(self, rid):
        return self.root[rid].to_py()

    def state(self):
        return self.root.to_py()


class Loro:
    """Loro: a root map "drivers" of nested maps; each commit's update is what
    subscribe_local_update hands over."""

    def __init__(self):
        import loro
        self.loro = loro
        self.doc = loro.LoroDoc()
        self.root = self.doc.get_map("drivers")
        self.pending = []
        self.sub = self.doc.subscribe_local_update(self._on_update)

    def _on_update(self, update):
        self.pending.append(update)
        return True  # stay subscribed

    def populate(self, txn):
        LoroMap = self.loro.LoroMap
        for rid, (fields, members) in by_record(txn).items():
            rec = self.root.insert_container(rid, LoroMap())
            for f, v in fields.items():
                rec.insert(f, v)
            s = rec.insert_container(SET_FIELD, LoroMap())
            for m in members:
                s.insert(m, True)
        self.doc.commit()

    def assign(self, txn):
        get = self.root.get
        for _verb, rid, field, _kind, value in txn:
            get(rid).container.insert(field, value)
        self.doc.commit()

    def take(self):
        out, self.pending = self.pending, []
        return out

    def full_update(self):
        return self.doc.export(self.loro.ExportMode.Updates(self.loro.VersionVector()))

    def compacted(self):
        return self.doc.export(self.loro.ExportMode.Snapshot())

    def apply(self, update):
        self.doc.import_(update)

    def load(self, updates):
        updates = list(updates)
        if len(updates) == 1:
            self.doc.import_(updates[0])  # a snapshot alone loads lazily
        else:
            self.doc.import_batch(updates)

    def record(self, rid):
        return self.root.get(rid).container.get_deep_value()

    def state(self):
        return self.doc.get_deep_value().get("drivers", {})


ENGINES = {"yrs": Yrs, "loro": Loro}


def emit(obj):
    print(json.dumps(obj, separators=(",", ":"), ensure_ascii=False), flush=True)


def peer_write(name, wpath, d):
    population, assign = read_workload(wpath)
    eng = ENGINES[name]()
    logpath = os.path.join(d, "log.db")
    log = Log(logpath)
    for txn in population:
        eng.populate(txn)
        for u in eng.take():
            log.append(u)
    # As drivercore's side does: the population checkpointed into the file,
    # the WAL gone, before the timed part.
    log.close()
    log = Log(logpath)
    ops = sum(len(t) for t in assign)
    wire = appended = 0
    wchar0, wb0 = proc_io("wchar"), proc_io("write_bytes")
    t0 = time.perf_counter()
    for txn in assign:
        eng.assign(txn)
        for u in eng.take():
            wire += len(u)
            appended += 1
            log.append(u)
    t = time.perf_counter() - t0
    log.close()
    wchar1, wb1 = proc_io("wchar"), proc_io("write_bytes")
    if appended != len(assign):
        sys.exit(f"peers: {name} made {appended} updates for {len(assign)} transactions")
    full = eng.full_update()
    with open(os.path.join(d, "full.bin"), "wb") as f:
        f.write(full)
    # What a user may do now and then: the log replaced by one row holding
    # the document's compacted state (Loro's snapshot; Yrs's state update).
    cpath = os.path.join(d, "compacted.db")
    log = Log(cpath)
    log.append(eng.compacted())
    log.close()
    with open(os.path.join(d, "state.json"), "w") as f:
        json.dump(eng.state(), f)
    emit({"engine": name, "ops": ops, "txns": len(assign), "write_s": t,
          "wchar": wchar1 - wchar0, "write_bytes": wb1 - wb0 if wb0 >= 0 else -1,
          "file_bytes": db_size(logpath), "compacted_bytes": db_size(cpath), "wire_bytes": wire,
          "full_sync_bytes": len(full), "sqlite": sqlite3.sqlite_version})


def peer_merge(name, d):
    with open(os.path.join(d, "full.bin"), "rb") as f:
        full = f.read()
    eng = ENGINES[name]()
    log = Log(os.path.join(d, "merged.db"))
    wchar0 = proc_io("wchar")
    t0 = time.perf_counter()
    eng.apply(full)
    log.append(full)
    t = time.perf_counter() - t0
    wchar1 = proc_io("wchar")
    log.close()
    with open(os.path.join(d, "merged.json"), "w") as f:
        json.dump(eng.state(), f)
    emit({"engine": name, "merge_s": t, "wchar": wchar1 - wchar0})


def peer_memory(name, d, rid, logname):
    __import__(MODULE[name])  # the library loaded, as drivercore's is before its baseline
    peak_reset = reset_peak()
    rss0 = proc_mem("VmRSS")
    eng = ENGINES[name]()
    log = Log(os.path.join(d, logname))
    eng.load(log.updates())
    rec = eng.record(rid)
    rss1, hwm1 = proc_mem("VmRSS"), proc_mem("VmHWM")
    log.close()
    if not rec:
        sys.exit(f"peers: {name} read record {rid} empty")
    emit({"engine": name, "rss_bytes": rss1 - rss0, "peak_bytes": hwm1 - rss0,
          "peak_reset": peak_reset, "record_bytes": len(json.dumps(rec, ensure_ascii=False))})


def engine_main(argv):
    name, phase, args = argv[0], argv[1], argv[2:]
    if name not in ENGINES:
        sys.exit(f"peers: unknown engine {name}")
    if phase == "write" and len(args) == 2:
        peer_write(name, *args)
    elif phase == "merge" and len(args) == 1:
        peer_merge(name, *args)
    elif phase == "memory" and len(args) == 3 and args[2] in ("log.db", "compacted.db"):
        peer_memory(name, *args)
    else:
        sys.exit("usage: peers.py engine yrs|loro write WORKLOAD DIR | merge DIR | "
                 "memory DIR ID log.db|compacted.db")


# ---- the run ----

def pinned():
    """{module: version} from peers-requirements.txt."""
    pins = {}
    with open(REQUIREMENTS) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if "==" in line:
                k, v = line.split("==")
                pins[k.strip()] = v.strip()
    return pins


def available_peers(wanted):
    """([peer], [why others are not run]) for --peers WANTED."""
    from importlib import metadata
    pins = pinned()
    if wanted == "none":
        return [], []
    names = PEERS if wanted == "auto" else [p for p in wanted.split(",") if p]
    peers, why = [], []
    for p in names:
        if p not in ENGINES:
            sys.exit(f"peers: unknown peer {p}; known: {', '.join(PEERS)}")
        mod = MODULE[p]
        try:
            __import__(mod)
            version = metadata.version(mod)
        except Exception as e:  # ImportError, or a module without metadata
            if wanted != "auto":
                sys.exit(f"peers: {p} was asked for but {mod} does not import: {e}")
            why.append(f"{p} not run: {mod} is not installed in {sys.executable} "
                       f"(./dev bench installs it from PyPI into build-release/bench-venv)")
            continue
        if pins.get(mod) and version != pins[mod]:
            if wanted == "auto":
                # Only the pinned versions run unasked: an unpinned one
                # may have another API or other figures.
                why.append(f"{p} not run: {mod} {version} is installed, not the pinned "
                           f"{pins[mod]}")
                continue
            why.append(f"{p}: {mod} {version} ran, not the pinned {pins[mod]}")
        peers.append(p)
    return peers, why


def run_child(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, timeout=1800)
    if p.returncode != 0:
        sys.exit(f"peers: {' '.join(cmd)} exited with {p.returncode}")
    return json.loads(p.stdout.decode("utf-8").strip().splitlines()[-1])


def check_state(path, expected, what):
    with open(path, encoding="utf-8") as f:
        got = normalise(json.load(f))
    if got != expected:
        bad = sorted(set(got) ^ set(expected)) or sorted(
            k for k in expected if got.get(k) != expected[k])
        k = bad[0]
        sys.exit(f"peers: {what} does not hold what the workload wrote "
                 f"({len(bad)} records differ; {k}: {got.get(k)} != {expected.get(k)})")


def python_loop(assign):
    """Operations per second of the harness alone: the peers' loop over the
    workload with a dict assignment in place of the library call."""
    recs = {}
    t0 = time.perf_counter()
    for txn in assign:
        for _verb, rid, field, _kind, value in txn:
            recs.setdefault(rid, {})[field] = value
    return sum(len(t) for t in assign) / (time.perf_counter() - t0)


def run(args):
    records, assignments, runs = RECORDS, ASSIGNMENTS, args.runs
    if args.quick:
        records, assignments, runs = 200, 2000, 1
    peers, why = available_peers(args.peers)
    notes = list(why)
    if args.note:
        notes.insert(0, args.note)
    if args.peers == "none" and not args.note:
        notes.append("peers not run (--peers none): drivercore's side only")
    engines = ["drivercore"] + peers
    for n in notes:
        print(f"peers: {n}", file=sys.stderr)
    from importlib import metadata
    versions = ", ".join(f"{MODULE[p]} {metadata.version(MODULE[p])}" for p in peers)

    tmp = tempfile.mkdtemp(prefix="dc-peers-", dir=os.environ.get("TMPDIR") or None)
    try:
        wpath = os.path.join(tmp, "workload.tsv")
        write_workload(wpath, *make_workload(records, assignments, SEED))
        population, assign = read_workload(wpath)
        expected = expected_state(population, assign)
        changes = sum(len(t) for t in population + assign)
        ops = sum(len(t) for t in assign)
        probe = population[0][0][1]  # the record the memory phase reads
        print(f"peers: {records} records, {ops} assignments in {len(assign)} transactions, "
              f"{changes} changes in all; engines: {', '.join(engines)}; files in {tmp}",
              file=sys.stderr)
        res = {e: {ph: [] for ph in PHASES} for e in engines}
        loop = []
        for r in range(runs):
            order = engines[r % len(engines):] + engines[:r % len(engines)]
            for e in order:
                d = os.path.join(tmp, f"{e}-{r}")
                os.mkdir(d)
                if e == "drivercore":
                    w = run_child([args.dc, "write", wpath, d])
                    m = run_child([args.dc, "merge", d, w["space"]])
                    mem = run_child([args.dc, "memory", d, w["space"], probe])
                    res[e]["memory_compacted"].append(None)  # the replica is its state
                else:
                    me = [sys.executable, os.path.abspath(__file__), "engine", e]
                    w = run_child(me + ["write", wpath, d])
                    m = run_child(me + ["merge", d])
                    mem = run_child(me + ["memory", d, probe, "log.db"])
                    res[e]["memory_compacted"].append(
                        run_child(me + ["memory", d, probe, "compacted.db"]))
                check_state(os.path.join(d, "state.json"), expected, f"{e}'s writer")
                check_state(os.path.join(d, "merged.json"), expected, f"{e}'s merged replica")
                if w["ops"] != ops:
                    sys.exit(f"peers: {e} wrote {w['ops']} assignments, not {ops}")
                res[e]["write"].append(w)
                res[e]["merge"].append(m)
                res[e]["memory"].append(mem)
                print(f"peers: run {r + 1}/{runs} {e}: write {ops / w['write_s']:.0f} ops/s, "
                      f"{w['wchar'] / ops:.0f} B written/op, merge "
                      f"{changes / m['merge_s']:.0f} changes/s, file {w['file_bytes']} B, "
                      f"memory {mem['peak_bytes']} B", file=sys.stderr)
                shutil.rmtree(d)
            if peers:
                loop.append(python_loop(assign))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # A figure is the median over the runs; a ratio is the median of the
    # runs' own ratios (drivercore's figure over the peer's, both measured in
    # that run), which cancels what the machine's load does to a whole run.
    def series(engine, fn):
        return [fn(run) for run in zip(*(res[engine][ph] for ph in PHASES))]

    def figures(name, fn, digits=None):
        out, rs = {}, {}
        dc = series("drivercore", fn)
        for e in ["drivercore", *PEERS]:
            v = statistics.median(series(e, fn)) if e in res else None
            if v is not None and digits is not None:
                v = round(v, digits) if digits else round(v)
            out[f"{e}_{name}"] = v
        for p in PEERS:
            rs[f"ratio_{p}"] = (round(statistics.median(a / b for a, b in
                                                        zip(dc, series(p, fn))), 3)
                                if p in res else None)
        return out, rs

    def against_peers(rs, ok):
        """Whether every measured ratio meets the target; None if no peer ran."""
        measured = [v for v in rs.values() if v is not None]
        return all(ok(v) for v in measured) if measured else None

    common = {"runs": runs, "records": records}
    dc_sqlite = res["drivercore"]["write"][0]["sqlite"]
    tail = {"peers": versions or None,
            "sqlite": f"drivercore {dc_sqlite}, peers {sqlite3.sqlite_version}" if peers
            else f"drivercore {dc_sqlite}",
            "note": "; ".join(notes) or None}

    def row(name, figs, target, met):
        out = {"bench": name}
        out.update(common)
        out.update(figs)
        out.update(target)
        out["met"] = met
        out.update(tail)
        emit(out)

    # Each run of an engine: (write, merge, memory, memory_compacted).
    rate, rs = figures("ops_per_s", lambda x: ops / x[0]["write_s"], 0)
    loop_rate = round(statistics.median(loop)) if loop else None
    row("peer_write", {"ops": ops, "ops_per_txn": OPS_PER_TXN, **rate, **rs,
                       "python_loop_ops_per_s": loop_rate},
        {"target_ratio_min": 1}, against_peers(rs, lambda x: x >= 1))

    wb, rs = figures("bytes", lambda x: x[0]["wchar"])
    per_op, _ = figures("bytes_per_op", lambda x: x[0]["wchar"] / ops, 1)
    block, _ = figures("block_bytes", lambda x: x[0]["write_bytes"])
    row("peer_bytes_written", {"ops": ops, **wb, **per_op, **rs, **block},
        {"target_ratio_max": 3, "measured": "wchar of /proc/self/io: every byte the engine's "
         "process handed to write(2) from its first assignment to the log's close (WAL frames, "
         "checkpoints); block_bytes: write_bytes, the pages dirtied, for comparison"},
        against_peers(rs, lambda x: x <= 3))

    merge, rs = figures("changes_per_s", lambda x: changes / x[1]["merge_s"], 0)
    row("peer_merge", {"changes": changes, **merge, **rs},
        {"target_ratio_min": 1}, against_peers(rs, lambda x: x >= 1))

    size, rs = figures("bytes", lambda x: x[0]["file_bytes"])
    compacted = {k: v for k, v in figures("compacted_bytes",
                                          lambda x: x[0].get("compacted_bytes", 0))[0].items()
                 if not k.startswith("drivercore_")}
    row("peer_size", {"changes": changes, **size, **rs, **compacted},
        {"target_ratio_max": 1}, against_peers(rs, lambda x: x <= 1))

    wire, rs = figures("bytes_per_op", lambda x: x[0]["wire_bytes"] / ops, 2)
    full, _ = figures("full_sync_bytes_per_change", lambda x: x[0]["full_sync_bytes"] / changes,
                      2)
    dc_wire = wire["drivercore_bytes_per_op"]
    row("peer_wire", {"ops": ops, **wire, **rs, **full},
        {"target_max": TODAY_WIRE_BYTES_PER_OP},
        None if TODAY_WIRE_BYTES_PER_OP is None else dc_wire <= TODAY_WIRE_BYTES_PER_OP)

    mem, rs = figures("bytes", lambda x: x[2]["peak_bytes"])
    rss, _ = figures("rss_bytes", lambda x: x[2]["rss_bytes"])
    compacted = {k: v for k, v in figures("compacted_bytes",
                                          lambda x: x[3]["peak_bytes"] if x[3] else 0)[0].items()
                 if not k.startswith("drivercore_")}
    dc_mem = mem["drivercore_bytes"]
    row("peer_memory", {**mem, **rs, **rss, **compacted},
        {"target_max": TODAY_MEMORY_BYTES},
        None if TODAY_MEMORY_BYTES is None else dc_mem <= TODAY_MEMORY_BYTES)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "engine":
        return engine_main(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dc", required=True, help="the bench_peers_dc executable")
    ap.add_argument("--runs", type=int, default=RUNS)
    ap.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    ap.add_argument("--peers", default="auto",
                    help="auto (those that import), none, or a list: yrs,loro")
    ap.add_argument("--note", help="why the peers may be missing (put in every row)")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    run(args)


if __name__ == "__main__":
    main()
