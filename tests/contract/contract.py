#!/usr/bin/env python3
"""API contract run: Schemathesis against every service, through the gateway.

Starts the platform's services as real processes (debug binaries from
target/debug unless CONTRACT_BIN_DIR says otherwise) on a fresh database and
a private nats-server, signs up a user and an admin, then for each service
runs Schemathesis on the gateway's merged public document
(`/api/openapi.json`, operations tagged by service) with the user's and the
admin's token:

  * positive mode with not_a_server_error, status_code_conformance,
    content_type_conformance and response_schema_conformance;
  * negative mode with negative_data_rejection and not_a_server_error,
    after which nothing in the database may have changed (rejected requests
    write nothing; only the login throttle counts attempts, by design).

Then the ledger invariants are checked. A fixed seed and a bounded number of
examples keep the run reproducible and short. Exit status 1 on any finding.
A finding that is only Hypothesis's FlakyFailure (a case failed once and
passed when replayed, e.g. a request that timed out on a loaded machine), a
502/503/504 (the service could not serve while the tests load the machine)
or a known tooling race makes its operations run once more alone; the
rerun's findings count, and both are logged (`FLAKY ...`). Every finding is
printed again after the table.

  python3 tests/contract/contract.py [--examples N] [--seed S] [--services a,b]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
# The gateway last: its fuzzed logout revokes the token it is called with.
SERVICES = ["charts", "pricing", "guidance", "media", "monitor", "social", "gateway"]
PORTS = {"charts": 0, "pricing": 0, "guidance": 0, "media": 0, "monitor": 0, "social": 0, "gateway": 0}
MODELS = os.environ.get("JYOTIFLOW_MODELS", os.path.join(ROOT, ".local", "models"))
# Guidance answers from a few domains of the corpus (seeding all of it would
# only cost time), with short answers: the run checks the contract, not prose.
CONTRACT_CORPUS = ["bhava", "ethics", "practice", "remedy", "dasha"]
PASSWORD = "a contract lotus 108"
WEBHOOK_SECRET = "whsec_contract_run_secret"


def log(msg):
    print(f"[contract] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(url, sql):
    out = subprocess.run(
        ["psql", url, "-AtqX", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True, capture_output=True, text=True,
    )
    return out.stdout.strip()


def with_db(url, db):
    head, _, _ = url.rpartition("/")
    return f"{head}/{db}"


def http(method, url, body=None, token=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def wait_ready(port, proc, name, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{name} did not become ready")


def build_own_binaries(dest):
    """Builds this checkout's service executables and copies them to `dest`.

    With a target directory shared by several checkouts, `target/debug/<bin>`
    is whichever checkout linked last, and cargo does not link again for a
    checkout whose build is fresh: removing the linked copies makes it."""
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    for s in SERVICES:
        try:
            os.remove(os.path.join(target, "debug", s))
        except OSError:
            pass
    cmd = ["cargo", "build", "--bins"] + [a for s in SERVICES for a in ("-p", s)]
    subprocess.run(cmd, cwd=ROOT, check=True)
    os.makedirs(dest, exist_ok=True)
    for s in SERVICES:
        shutil.copy2(os.path.join(target, "debug", s), os.path.join(dest, s))
    return dest


class FakeStripe:
    """A local server speaking Stripe's Checkout Sessions API (form-encoded
    POST /v1/checkout/sessions with a bearer key), so checkout succeeds."""

    def __init__(self):
        import http.server
        import threading

        counter = {"n": 0}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode()
                ok = (self.path == "/v1/checkout/sessions"
                      and (self.headers.get("authorization") or "").startswith("Bearer ")
                      and "mode=payment" in body)
                counter["n"] += 1
                n = counter["n"]
                reply = ({"id": f"cs_test_contract_{n}", "object": "checkout.session",
                          "url": f"https://checkout.stripe.com/c/pay/cs_test_contract_{n}",
                          "payment_intent": f"pi_contract_{n}"} if ok else
                         {"error": {"type": "invalid_request_error", "message": "bad request"}})
                data = json.dumps(reply).encode()
                self.send_response(200 if ok else 400)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


class Platform:
    def __init__(self, bin_dir, workdir):
        self.bin_dir = bin_dir
        self.workdir = workdir
        self.db = f"contract_{uuid.uuid4().hex[:12]}"
        self.db_url = with_db(ADMIN_URL, self.db)
        self.procs = {}
        self.nats = None

    def env(self, service):
        env = dict(os.environ)
        env.update({
            "JYOTIFLOW__ENV": "test",
            "JYOTIFLOW__DATABASE__URL": self.db_url,
            "JYOTIFLOW__NATS__URL": f"nats://127.0.0.1:{self.nats_port}",
            "JYOTIFLOW__HTTP__PORT": str(PORTS[service]),
            "JYOTIFLOW__TELEMETRY__LOG_LEVEL": "warn",
            "JYOTIFLOW__HTTP__WORKERS": "2",
        })
        if service == "gateway":
            env.update({
                "JYOTIFLOW__HTTP__METRICS_ADDRESS": "127.0.0.1:0",
                "JYOTIFLOW__UPSTREAMS__CHARTS": f"http://127.0.0.1:{PORTS['charts']}",
                "JYOTIFLOW__UPSTREAMS__PRICING": f"http://127.0.0.1:{PORTS['pricing']}",
                "JYOTIFLOW__UPSTREAMS__GUIDANCE": f"http://127.0.0.1:{PORTS['guidance']}",
                "JYOTIFLOW__UPSTREAMS__MEDIA": f"http://127.0.0.1:{PORTS['media']}",
                "JYOTIFLOW__UPSTREAMS__MONITOR": f"http://127.0.0.1:{PORTS['monitor']}",
                "JYOTIFLOW__UPSTREAMS__SOCIAL": f"http://127.0.0.1:{PORTS['social']}",
                # The fuzzer is one client sending thousands of requests
                # (and failed logins) from one address.
                "JYOTIFLOW__RATE_LIMIT__ENABLED": "false",
                "JYOTIFLOW__THROTTLE__ADDRESS_MAX_FAILURES": "1000000",
                "JYOTIFLOW__THROTTLE__REGISTER_MAX_PER_ADDRESS": "1000000",
                "JYOTIFLOW__AUTH__ARGON2_MEMORY_KIB": "8192",
                "JYOTIFLOW__AUTH__ARGON2_ITERATIONS": "1",
            })
        if service == "pricing":
            env.update({
                "JYOTIFLOW__STRIPE__WEBHOOK_SECRET": WEBHOOK_SECRET,
                "JYOTIFLOW__STRIPE__SECRET_KEY": "sk_test_contract",
                "JYOTIFLOW__STRIPE__API_BASE": f"http://127.0.0.1:{self.stripe.port}",
            })
        if service == "guidance":
            env.update({
                "JYOTIFLOW__KNOWLEDGE__DIR": os.path.join(self.workdir, "knowledge"),
                "JYOTIFLOW__KNOWLEDGE__GLOSSARY": os.path.join(ROOT, "services", "guidance", "glossary.tsv"),
                "JYOTIFLOW__EMBEDDING__MODEL_DIR": os.path.join(MODELS, "all-minilm-l6-v2"),
                "JYOTIFLOW__LLM__LOCAL__GGUF": os.path.join(MODELS, "SmolLM2-135M-Instruct.Q8_0.gguf"),
                "JYOTIFLOW__LLM__LOCAL__MAX_TOKENS": "8",
                "JYOTIFLOW__LLM_API__ENABLED": "false",
                "JYOTIFLOW__ANSWERS__SOURCES": "1",
                "JYOTIFLOW__ANSWERS__HISTORY_TOKENS": "64",
                "JYOTIFLOW__ANSWERS__UPSTREAM_TIMEOUT_MS": "20000",
            })
        if service == "social":
            # Nothing runs in the background while the fuzzer compares the
            # database before and after its requests: no schedule rounds,
            # no publishing (its channels' networks are not reachable here),
            # no analytics. Short teachings.
            env.update({
                "JYOTIFLOW__SCHEDULER__INTERVAL_MS": "3600000",
                "JYOTIFLOW__PUBLISHER__INTERVAL_MS": "3600000",
                "JYOTIFLOW__ANALYTICS__INTERVAL_MS": "0",
                "JYOTIFLOW__CONTENT__REQUEST_TIMEOUT_MS": "20000",
                "JYOTIFLOW__CONTENT__MAX_TOKENS": "16",
            })
        if service == "media":
            env.update({
                "JYOTIFLOW__AGORA__APP_ID": "970ca35de60c44645bbae8a215061b33",
                "JYOTIFLOW__AGORA__APP_CERTIFICATE": "5cfd2fd1755d40ecb72977518be15d3b",
                "JYOTIFLOW__AGORA__WEBHOOK_SECRET": "contract-run-agora-notification-secret",
            })
        return env

    def start(self):
        self.stripe = FakeStripe()
        psql(ADMIN_URL, f'CREATE DATABASE "{self.db}"')
        self.nats_port = free_port()
        nats_bin = os.environ.get("NATS_SERVER_BIN") or shutil.which("nats-server") or "/usr/sbin/nats-server"
        self.nats = subprocess.Popen(
            [nats_bin, "-a", "127.0.0.1", "-p", str(self.nats_port), "-js", "-sd", os.path.join(self.workdir, "nats")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for s in SERVICES:
            PORTS[s] = free_port()
        corpus = os.path.join(self.workdir, "knowledge")
        for d in CONTRACT_CORPUS:
            shutil.copytree(os.path.join(ROOT, "services", "guidance", "knowledge", d), os.path.join(corpus, d))
        for s in SERVICES:
            exe = os.path.join(self.bin_dir, s)
            subprocess.run([exe, "migrate"], env=self.env(s), check=True, capture_output=True)
            if s == "guidance":
                subprocess.run([exe, "seed"], env=self.env(s), check=True, capture_output=True)
            logf = open(os.path.join(self.workdir, f"{s}.log"), "w")
            self.procs[s] = subprocess.Popen([exe, "serve"], env=self.env(s), stdout=logf, stderr=logf)
        for s in SERVICES:
            wait_ready(PORTS[s], self.procs[s], s, timeout=120)

    def stop(self):
        for p in self.procs.values():
            p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        if self.nats:
            self.nats.kill()
        if getattr(self, "stripe", None):
            self.stripe.stop()
        try:
            psql(ADMIN_URL, f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        except subprocess.CalledProcessError:
            pass

    @property
    def gw(self):
        return f"http://127.0.0.1:{PORTS['gateway']}"

    def login(self, email):
        st, body = http("POST", f"{self.gw}/api/v1/auth/login", {"email": email, "password": PASSWORD})
        assert st == 200, (st, body)
        return body["access_token"]

    def users(self):
        """A funded user and an admin, both signed in through the gateway."""
        st, body = http("POST", f"{self.gw}/api/v1/auth/register",
                        {"email": "fuzz-user@example.com", "password": PASSWORD, "display_name": "Fuzz"})
        assert st == 201, (st, body)
        user = body["access_token"]
        subprocess.run(
            [os.path.join(self.bin_dir, "gateway"), "create-admin", "--email", "fuzz-admin@example.com"],
            input=PASSWORD, text=True, env=self.env("gateway"), check=True, capture_output=True,
        )
        st, body = http("POST", f"{self.gw}/api/v1/auth/login",
                        {"email": "fuzz-admin@example.com", "password": PASSWORD})
        assert st == 200, (st, body)
        admin = body["access_token"]
        st, me = http("GET", f"{self.gw}/api/v1/me", token=user)
        st, _ = http("POST", f"{self.gw}/api/v1/admin/pricing/adjustments",
                     {"user_id": me["id"], "amount": 100000, "reason": "contract run funding"},
                     token=admin, headers={"idempotency-key": "contract-funding"})
        assert st == 200, st
        return user, admin

    def fingerprint(self):
        """Row counts and sums of every table, except the login throttle
        (it counts attempts by design), the tables the monitor's leader
        writes by itself every round (incidents as conditions come and go,
        their events, its repairs and its snapshots) and the rows
        schemathesis' own accepted requests cannot have written in negative
        mode."""
        tables = psql(self.db_url, """
            SELECT string_agg(format('%I.%I', table_schema, table_name), ',' ORDER BY 1)
            FROM information_schema.tables
            WHERE table_schema IN ('gateway','charts','pricing','guidance','media','monitor','social') AND table_type = 'BASE TABLE'
              AND table_name NOT IN ('login_throttle', 'refinery_schema_history', 'schema_migrations')
              AND format('%I.%I', table_schema, table_name) NOT IN
                  ('monitor.incidents', 'monitor.actions', 'monitor.snapshots', 'monitor.outbox', 'monitor.reported')""")
        names = [t for t in tables.split(",") if t]
        if not names:
            return {}
        # One statement (one psql process) for every table's count.
        counts = psql(self.db_url, "SELECT concat_ws(',', " + ", ".join(
            f"(SELECT count(*) FROM {t})" for t in names) + ")")
        return dict(zip(names, counts.split(",")))

    def ledger_problems(self):
        return psql(self.db_url, """
            SELECT
              (SELECT count(*) FROM pricing.accounts a WHERE a.user_id IS NOT NULL AND a.balance <>
                 COALESCE((SELECT sum(amount) FROM pricing.entries e WHERE e.account_id = a.id), 0))
            + (SELECT count(*) FROM (SELECT transaction_id FROM pricing.entries GROUP BY 1 HAVING sum(amount) <> 0) x)
            + (SELECT count(*) FROM pricing.accounts WHERE kind IN ('wallet','held') AND balance < 0)""")


def run_schemathesis(args, platform, service, token, mode, report, only, workers=2):
    checks = {
        "positive": "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        "negative": "not_a_server_error,negative_data_rejection,status_code_conformance,content_type_conformance",
    }[mode]
    cmd = [
        sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()",
        "run", f"{platform.gw}/api/openapi.json",
        "--url", platform.gw,
        "--checks", checks,
        "--mode", mode,
        "--max-examples", str(args.examples),
        "--seed", str(args.seed),
        "--phases", "examples,coverage,fuzzing",
        "--workers", str(workers),
        "--request-timeout", "30",
        "--generation-database", "none",
        "--suppress-health-check", "all",
        "--no-color",
        "--report", "ndjson",
        "--report-ndjson-path", report,
        "-H", f"Authorization: Bearer {token}",
    ]
    # Filters of different kinds are alternatives, not conjunctions: name
    # the operations exactly.
    for name in only:
        cmd += ["--include-name", name]
    t = time.time()
    # In the run's own folder: Schemathesis keeps a cache where it runs.
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=os.path.dirname(report))
    return out, time.time() - t


def accepted(report):
    """How many requests in a report were answered 2xx."""
    n = 0
    try:
        for line in open(report):
            ev = json.loads(line)
            data = ev.get("ScenarioFinished")
            if data:
                for i in ((data.get("recorder") or {}).get("interactions") or {}).values():
                    if 200 <= ((i.get("response") or {}).get("status_code") or 0) < 300:
                        n += 1
    except (OSError, ValueError):
        pass
    return n


# Findings that are not about the service: Hypothesis's FlakyFailure (a case
# that failed once and passed when replayed, e.g. a request that timed out on
# a loaded machine) and a CPython 3.11 race in the `ast` module when two
# Schemathesis workers build code at once (gh-106905: "AST constructor
# recursion depth mismatch").
RETRIABLE = (": FlakyFailure:", ": SystemError: AST constructor recursion depth mismatch")
# An answer that says the service could not serve (502, 503, 504: a pool or
# statement timeout while tests load both cores) is about availability, not
# about the input: its operations run once more alone, and count if it
# happens again. A 500 never is.
UNAVAILABLE = ("[HTTP 502]", "[HTTP 503]", "[HTTP 504]")
UNAVAILABLE_CHECKS = (": not_a_server_error: ", ": status_code_conformance: ")


def retriable_marker(finding):
    """Where `finding` splits into its operation and a retriable cause, or None."""
    marker = next((m for m in RETRIABLE if m in finding), None)
    if marker is None and any(u in finding for u in UNAVAILABLE):
        marker = next((m for m in UNAVAILABLE_CHECKS if m in finding), None)
    return marker


def flaky_operations(findings):
    """The operations of `findings` when every one is retriable (see
    RETRIABLE), else None."""
    ops = set()
    for f in findings or []:
        marker = retriable_marker(f)
        if marker is None:
            return None
        ops.add(f.split(marker)[0])
    return sorted(ops) or None


def rerun_flaky(args, platform, service, email, mode, report, findings):
    """Runs the operations of flaky-only findings once more, alone and with
    one worker; their findings then are the rerun's (logged either way)."""
    ops = flaky_operations(findings)
    if not ops:
        return findings
    again = report.replace(".ndjson", "-rerun.ndjson")
    if any(u in f for f in findings for u in UNAVAILABLE):
        # Why it could not serve, for the log of a run whose folder is gone.
        try:
            with open(os.path.join(platform.workdir, f"{service}.log"), errors="replace") as fh:
                tail = [line.rstrip() for line in fh.readlines()[-400:] if '"ERROR"' in line or '"WARN"' in line]
            for line in tail[-12:]:
                log(f"  {service}.log: {line[:400]}")
        except OSError:
            pass
    out, _ = run_schemathesis(args, platform, service, platform.login(email), mode, again, ops, workers=1)
    _, _, rerun = summarize(again)
    if out.returncode != 0 and not rerun:
        rerun = [f"schemathesis exited {out.returncode} on the rerun of {ops}"]
    log(f"FLAKY {service}/{mode}: {ops} had only retriable findings (flaky, unavailable under load or a tooling race): {findings}; "
        f"rerun alone: {len(rerun)} findings ({again})")
    return rerun


def operations(doc, service, methods):
    """`METHOD /path` names of the service's operations."""
    ops = []
    for path, item in (doc.get("paths") or {}).items():
        for method, op in item.items():
            if method in methods and service in ((op or {}).get("tags") or []):
                ops.append(f"{method.upper()} {path}")
    return sorted(ops)


WRITES = ("post", "put", "patch", "delete")


def summarize(report):
    """(operations, requests, findings) from an ndjson event report."""
    ops, requests, findings = set(), 0, set()
    try:
        lines = open(report).read().splitlines()
    except OSError:
        return 0, 0, ["no report"]
    for line in lines:
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        for kind, data in ev.items():
            if not isinstance(data, dict):
                continue
            if kind == "NonFatalError":
                v = data.get("value") or {}
                findings.add(f"{data.get('label')}: {v.get('type')}: {v.get('message')}")
            if kind != "ScenarioFinished":
                continue
            rec = data.get("recorder") or {}
            label = rec.get("label")
            interactions = rec.get("interactions") or {}
            if label and interactions:
                ops.add(label)
            requests += len(interactions)
            for case, checks in (rec.get("checks") or {}).items():
                for c in checks:
                    if c.get("status") == "failure":
                        f = (c.get("failure_info") or {}).get("failure") or {}
                        msg = (f.get("message") or "").replace("\n", " | ")[:300]
                        status = ((interactions.get(case) or {}).get("response") or {}).get("status_code")
                        findings.add(f"{label}: {c.get('name')}: {f.get('title')}: {msg} [HTTP {status}]")
    return len(ops), requests, sorted(findings)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=int(os.environ.get("CONTRACT_EXAMPLES", "25")))
    ap.add_argument("--seed", type=int, default=108)
    ap.add_argument("--services", default=",".join(SERVICES))
    ap.add_argument("--bin-dir", default=os.environ.get("CONTRACT_BIN_DIR", os.path.join(ROOT, "target", "debug")),
                    help="where the service executables are (default: target/debug)")
    ap.add_argument("--build", action="store_true",
                    help="build this checkout's executables first (for a target directory shared by checkouts)")
    ap.add_argument("--keep", action="store_true", help="keep logs and reports")
    args = ap.parse_args()
    try:
        import schemathesis  # noqa: F401
    except ImportError:
        raise SystemExit("schemathesis is not installed (python3 -m pip install schemathesis)")
    workdir = tempfile.mkdtemp(prefix="jf-contract-")
    bin_dir = build_own_binaries(os.path.join(workdir, "bin")) if args.build else args.bin_dir
    platform = Platform(bin_dir, workdir)
    failed = False
    try:
        platform.start()
        user, admin = platform.users()
        st, doc = http("GET", f"{platform.gw}/api/openapi.json")
        if st != 200:
            raise SystemExit(f"the gateway serves no merged document ({st})")
        rows, every_finding = [], []
        for service in args.services.split(","):
            for who, email in (("user", "fuzz-user@example.com"), ("admin", "fuzz-admin@example.com")):
                # Positive data: every answer documented, no 5xx.
                token = platform.login(email)  # fresh: a fuzzed logout revokes the one it carries
                report = os.path.join(workdir, f"{service}-{who}-positive.ndjson")
                every = operations(doc, service, ("get",) + WRITES)
                out, secs = run_schemathesis(args, platform, service, token, "positive", report, every)
                ops, reqs, findings = summarize(report)
                findings = rerun_flaky(args, platform, service, email, "positive", report, findings)
                if out.returncode != 0 and not findings and not flaky_operations(summarize(report)[2]):
                    findings.append(f"schemathesis exited {out.returncode}: {out.stdout[-2000:]}{out.stderr[-2000:]}")
                rows.append((service, who, "positive", ops, reqs, len(findings), secs))
                for f in findings:
                    every_finding.append(f"{service}/{who}/positive: {f}")
                    log(f"FINDING {service}/{who}/positive: {f}")
                failed |= bool(findings)
                # Negative data: rejected, and what was rejected wrote nothing.
                # Each writing operation runs alone so its writes are its own;
                # a run in which some request was accepted is judged by
                # negative_data_rejection instead.
                reads = operations(doc, service, ("get",))
                parts = ([(reads, "reads")] if reads else []) + [([op], op) for op in operations(doc, service, WRITES)]
                n_ops, n_reqs, n_findings, n_secs = 0, 0, [], 0.0
                for i, (only, label) in enumerate(parts):
                    token = platform.login(email)
                    before = platform.fingerprint()
                    report = os.path.join(workdir, f"{service}-{who}-negative-{i}.ndjson")
                    out, secs = run_schemathesis(args, platform, service, token, "negative", report, only)
                    ops, reqs, findings = summarize(report)
                    after = platform.fingerprint()
                    changed = {t: (before[t], after.get(t)) for t in before if before[t] != after.get(t)}
                    flaky = bool(flaky_operations(findings))
                    findings = rerun_flaky(args, platform, service, email, "negative", report, findings)
                    if changed and accepted(report) == 0:
                        findings.append(f"{label}: rejected requests wrote rows: {changed}")
                    if out.returncode != 0 and not findings and not flaky:
                        findings.append(f"{label}: schemathesis exited {out.returncode}: {out.stdout[-1500:]}")
                    n_ops += ops
                    n_reqs += reqs
                    n_secs += secs
                    n_findings += findings
                rows.append((service, who, "negative", n_ops, n_reqs, len(n_findings), n_secs))
                for f in n_findings:
                    every_finding.append(f"{service}/{who}/negative: {f}")
                    log(f"FINDING {service}/{who}/negative: {f}")
                failed |= bool(n_findings)
        problems = platform.ledger_problems()
        if problems != "0":
            log(f"FINDING ledger invariants broken in {problems} places")
            failed = True
        print(f"{'service':<10} {'token':<6} {'mode':<9} {'operations':>10} {'requests':>9} {'findings':>9} {'seconds':>8}")
        for r in rows:
            print(f"{r[0]:<10} {r[1]:<6} {r[2]:<9} {r[3]:>10} {r[4]:>9} {r[5]:>9} {r[6]:>8.1f}")
        print(f"ledger invariants: {'ok' if problems == '0' else 'BROKEN'}; seed {args.seed}, {args.examples} examples per operation")
        # Again after the table, so that the end of a CI log shows them.
        for f in every_finding:
            print(f"FINDING {f}")
    finally:
        platform.stop()
        if args.keep or failed:
            log(f"logs and reports kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
