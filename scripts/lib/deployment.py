"""The split deployment of docker-compose.yml as local processes on loopback, for
scripts/lib/compose_as_processes.py and scripts/faults.

Every boxoffice service of the Compose file runs with its own command and environment (the
file's values, with each container's host name and ports mapped to free loopback ports, so a
list of replicas in a service URL stays a list), against the infrastructure it is given. For the
fault runs the infrastructure is the run's own, so that it can be stopped and started again
without touching the machine's shared servers: a PostgreSQL cluster (initdb on a free port, run
as the postgres user, since PostgreSQL refuses to run as root), a Redis server on a free port
that keeps nothing on disk, and a tansu broker whose log is a SQLite file (it survives a restart).
"""

import glob
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import yaml


TAKEN = set()


def free_port():
    """A free port below the kernel's ephemeral range (32768 and up), so that no outgoing
    connection of the processes started meanwhile can take it before its service binds it."""
    while True:
        port = random.randrange(20000, 32000)
        if port in TAKEN:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        TAKEN.add(port)
        return port


def lines_from(path, offset=0):
    """The lines of the file at `path` from byte `offset` on (none if it cannot be read);
    undecodable bytes replaced."""
    try:
        with open(path, errors="replace") as text:
            text.seek(offset)
            return text.read().splitlines()
    except OSError:
        return []


def tail(path, lines=15):
    return "\n".join(lines_from(path)[-lines:])


def wait_for_port(port, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def ready(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def as_postgres(command):
    """`command` as the postgres user when this runs as root."""
    return (["runuser", "-u", "postgres", "--"] + command) if os.geteuid() == 0 else command


def postgres_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else name


class PrivatePostgres:
    """A PostgreSQL cluster of the run's own, in `work`, on a free loopback port."""

    def __init__(self, work, name="postgres"):
        self.dir = os.path.join(work, name)
        self.log = os.path.join(work, f"{name}.log")
        self.port = free_port()
        os.makedirs(self.dir)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            open(self.log, "w").close()
            shutil.chown(self.log, "postgres", "postgres")
        subprocess.run(as_postgres([postgres_bin("initdb"), "-D", self.dir, "-A", "trust", "-U", "postgres",
                                    "-E", "UTF8", "--no-sync"]), check=True, stdout=subprocess.DEVNULL)
        self.start()

    @property
    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def start(self):
        # fsync off: the faults stop processes, not the machine, and the page cache survives them.
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=400 "
                   "-c fsync=off -c shared_buffers=128MB")
        subprocess.run(as_postgres([postgres_bin("pg_ctl"), "-D", self.dir, "-l", self.log, "-w", "-o", options,
                                    "start"]), check=True, stdout=subprocess.DEVNULL)

    def stop(self, mode="fast"):
        """`fast` ends every session and stops cleanly; `immediate` is a crash."""
        subprocess.run(as_postgres([postgres_bin("pg_ctl"), "-D", self.dir, "-m", mode, "-w", "stop"]),
                       check=False, stdout=subprocess.DEVNULL)

    def psql(self, sql):
        """The rows of `sql`, as lists of strings."""
        out = subprocess.run(["psql", self.url, "-XAtq", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                             check=True, capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]


class PrivateRedis:
    """A Redis server of the run's own, keeping nothing on disk: a restart starts it empty."""

    def __init__(self, work):
        self.port = free_port()
        self.log = os.path.join(work, "redis.log")
        self.process = None
        self.start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        if not wait_for_port(self.port):
            raise SystemExit(f"deployment: redis-server does not listen on {self.port}:\n{tail(self.log)}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class Broker:
    """A tansu broker on a free loopback port: in memory, or with its log in durable storage,
    which a restart keeps: a SQLite file in `work` (`storage="sqlite"`), or a PostgreSQL cluster
    of its own (`storage="postgres"`, with tansu's schema, the file `schema`: its repository's
    etc/initdb.d/010-schema.sql of the installed version), which keeps up with a larger sale."""

    def __init__(self, tansu, work, storage="memory", schema=None):
        self.tansu = tansu
        self.port = free_port()
        self.log = os.path.join(work, "tansu.log")
        self.work = work
        self.postgres = None
        if storage == "postgres":
            # A cluster apart from the services' own, so that stopping theirs leaves the broker up.
            self.postgres = PrivatePostgres(work, name="broker-postgres")
            subprocess.run(["psql", self.postgres.url, "-Xq", "-v", "ON_ERROR_STOP=1", "-f", schema],
                           check=True, stdout=subprocess.DEVNULL)
            self.storage = self.postgres.url
        elif storage == "sqlite":
            # tansu puts a sqlite:// file in its working directory.
            self.storage = "sqlite://tansu.db"
        else:
            self.storage = "memory://tansu/"
        self.process = None
        self.start()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        url = f"tcp://127.0.0.1:{self.port}"
        log = open(self.log, "a")
        # Where this process's lines begin, for `failure`.
        self.log_start = log.tell()
        self.process = subprocess.Popen(
            [self.tansu, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", self.storage],
            cwd=self.work, stdout=log, stderr=subprocess.STDOUT)
        if not wait_for_port(self.port):
            self.process.kill()
            self.process.wait()
            raise SystemExit(f"deployment: tansu does not listen on {self.port}:\n{tail(self.log)}")

    def stop(self, sig=signal.SIGTERM):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def failure(self):
        """The sign, in the log of the broker process now running, that its storage broke, or
        None. tansu 0.6's SQLite storage breaks now and then under a consumer group's churn
        (it panics with "internal error: entered unreachable code" at tansu-storage's
        service.rs, or its storage task is simply gone) and then answers every produce and
        fetch with `Storage(UnableToSend)` (a consumer then reads nothing, even where the
        outboxes drained): a broker that has stopped storing until it is restarted, not a fault
        of boxoffice's. Other panics do not count."""
        lines = lines_from(self.log, self.log_start)
        for at, line in enumerate(lines):
            following = lines[at + 1] if at + 1 < len(lines) else ""
            if "panicked at" in line and "tansu-storage" in line and "unreachable" in following:
                return f"{line.strip()} {following.strip()}"[:300]
            if "UnableToSend" in line:
                return line.strip()[:300]
        return None

    def stop_all(self):
        """The broker, and its PostgreSQL cluster if it has one."""
        self.stop()
        if self.postgres:
            self.postgres.stop()


SERVICE_PORTS = (8080, 9090, 50051, 50052, 50053)
ROLE_PORTS = (("users", 50051), ("events", 50052), ("bookings", 50053))


class Deployment:
    """The boxoffice services of docker-compose.yml as processes. `extra` adds replicas to the
    file's: {"users": 1} runs a `users-2` beside `users`, and every service URL lists it too.
    `settings` are BOXOFFICE_* variables set in every process besides the file's."""

    def __init__(self, binary, work, database_url, redis_url, kafka_brokers, redis_prefix="",
                 compose_file="docker-compose.yml", extra=None, log_level="warn", settings=None):
        self.binary = binary
        self.work = work
        compose = yaml.safe_load(open(compose_file))
        self.compose = compose
        self.services = {name: s for name, s in compose["services"].items()
                         if "--service" in (s.get("command") or [])}
        for role, count in (extra or {}).items():
            names = [name for name in self.services if self.role(name) == role]
            for n in range(count):
                self.services[f"{role}-extra-{n + 1}"] = dict(self.services[names[-1]])
        self.ports = {(name, port): free_port() for name in self.services for port in SERVICE_PORTS}
        self.by_role = {}
        for name in self.services:
            self.by_role.setdefault(self.role(name), []).append(name)
        self.infra = {"database": database_url, "redis": redis_url, "kafka": kafka_brokers,
                      "prefix": redis_prefix}
        self.secrets = {
            "POSTGRES_PASSWORD": "unused",
            "BOXOFFICE_JWT_SECRET": secrets.token_urlsafe(32),
            "BOXOFFICE_TICKET_SECRET": secrets.token_urlsafe(32),
            "BOXOFFICE_INTERNAL_TOKEN": secrets.token_urlsafe(32),
        }
        self.log_level = log_level
        self.settings = dict(settings or {})
        self.processes = {}
        self.log_starts = {}

    def role(self, name):
        command = self.services[name]["command"]
        return command[command.index("--service") + 1]

    def replicas_url(self, role):
        port = dict(ROLE_PORTS)[role]
        return ",".join(f"http://127.0.0.1:{self.ports[(name, port)]}" for name in self.by_role[role])

    def environment(self, name):
        env = {}
        for key, value in (self.services[name].get("environment") or {}).items():
            value = str(value)
            # ${VAR:-default} and ${VAR:?message}, as Compose reads them, from the secrets above.
            value = re.sub(r"\$\{(\w+)(?::[-?]([^}]*))?\}",
                           lambda m: self.secrets.get(m.group(1), m.group(2) or ""), value)
            env[key] = value
        env["BOXOFFICE_DATABASE_URL"] = self.infra["database"]
        env["BOXOFFICE_REDIS_URL"] = self.infra["redis"]
        env["BOXOFFICE_REDIS_KEY_PREFIX"] = self.infra["prefix"]
        env["BOXOFFICE_KAFKA_BROKERS"] = self.infra["kafka"]
        env.pop("BOXOFFICE_SMTP_URL", None)  # the emails go to files
        env["BOXOFFICE_DATA_DIR"] = os.path.join(self.work, name)
        # A container's own ports, on loopback.
        env["BOXOFFICE_HTTP_ADDR"] = f"127.0.0.1:{self.ports[(name, 8080)]}"
        env["BOXOFFICE_ADMIN_ADDR"] = f"127.0.0.1:{self.ports[(name, 9090)]}"
        for role, port in (("USERS", 50051), ("EVENTS", 50052), ("BOOKINGS", 50053)):
            env[f"BOXOFFICE_{role}_GRPC_ADDR"] = f"127.0.0.1:{self.ports[(name, port)]}"
        # Other containers' addresses: every replica of the role, as the file lists them.
        for role, _ in ROLE_PORTS:
            env[f"BOXOFFICE_{role.upper()}_URL"] = self.replicas_url(role)
        env["RUST_LOG"] = self.log_level
        env.update(self.settings)
        return env

    def full_environment(self, name):
        env = {key: value for key, value in os.environ.items() if not key.startswith("BOXOFFICE_")}
        env.update(self.environment(name))
        return env

    def log(self, name):
        return os.path.join(self.work, f"{name}.log")

    def migrate(self):
        migrate = self.compose["services"]["migrate"]
        subprocess.run([self.binary] + migrate["command"], env=self.full_environment(next(iter(self.services))),
                       check=True, stdout=subprocess.DEVNULL)

    def start(self, name):
        log = open(self.log(name), "a")
        # Where this process's lines begin, for `since_start`.
        self.log_starts[name] = log.tell()
        self.processes[name] = subprocess.Popen([self.binary] + self.services[name]["command"],
                                                env=self.full_environment(name), stdout=log, stderr=log)

    def since_start(self, name):
        """The lines `name`'s process now running has logged."""
        return lines_from(self.log(name), self.log_starts.get(name, 0))

    def wait_ready(self, name, seconds=60):
        url = f"http://127.0.0.1:{self.ports[(name, 9090)]}/readyz"
        deadline = time.time() + seconds
        process = self.processes[name]
        while time.time() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"deployment: {name} exited with {process.returncode}:\n{tail(self.log(name))}")
            if ready(url):
                return
            time.sleep(0.1)
        raise SystemExit(f"deployment: {name} is not ready after {seconds} s:\n{tail(self.log(name))}")

    def start_all(self):
        self.migrate()
        for name in self.services:
            self.start(name)
        for name in self.services:
            self.wait_ready(name)

    def stop(self, name, sig=signal.SIGTERM, wait=30):
        process = self.processes[name]
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop_all(self):
        for name in self.processes:
            if self.processes[name].poll() is None:
                self.processes[name].terminate()
        for name in list(self.processes):
            self.stop(name, wait=10)

    def gateways(self):
        return [f"http://127.0.0.1:{self.ports[(name, 8080)]}" for name in self.by_role["gateway"]]

    def bench_environment(self):
        """What `boxoffice bench` needs to mint the deployment's tokens."""
        return self.full_environment(self.by_role["gateway"][0])
