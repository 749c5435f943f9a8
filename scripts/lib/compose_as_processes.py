"""Runs the split deployment of docker-compose.yml as local processes on loopback: every
boxoffice service of the file with its own command and environment (the file's values, with the
containers' host names and ports mapped to free loopback ports, the infrastructure to the test
machine's PostgreSQL (a database of its own), Redis (a key prefix of its own) and a tansu broker,
and the load balancer's bookings address to the replicas in turn), waits until each answers its
health check, then runs a short flash sale through both gateways and checks nothing was oversold.

    python3 scripts/lib/compose_as_processes.py <boxoffice binary> <tansu binary>

Environment: BOXOFFICE_TEST_DATABASE_URL (an admin connection), BOXOFFICE_TEST_REDIS_URL.
"""

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

import yaml


TAKEN = set()


def free_port():
    """A free port below the kernel's ephemeral range (32768 and up), so that no outgoing
    connection of the processes started meanwhile can take it before its service binds it."""
    import random
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


def tail(path, lines=15):
    try:
        return "".join(open(path).readlines()[-lines:])
    except OSError:
        return ""


def wait_for(url, process, name, log, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"compose-as-processes: {name} exited with {process.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"compose-as-processes: {name} is not ready after {seconds} s ({url}):\n{tail(log)}")


def main():
    binary, tansu = sys.argv[1], sys.argv[2]
    compose = yaml.safe_load(open("docker-compose.yml"))
    admin_url = os.environ.get("BOXOFFICE_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("BOXOFFICE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
    database = f"boxoffice_compose_{uuid.uuid4().hex}"
    base = admin_url.rsplit("/", 1)[0]
    work = tempfile.mkdtemp(prefix="boxoffice-compose-")
    processes = []
    psql = ["psql", admin_url, "-q", "-v", "ON_ERROR_STOP=1", "-c"]
    subprocess.run(psql + [f"CREATE DATABASE {database}"], check=True)
    try:
        # The infrastructure: a broker of its own; the machine's PostgreSQL and Redis.
        kafka_port = free_port()
        processes.append(subprocess.Popen(
            [tansu, "broker", "--listener-url", f"tcp://127.0.0.1:{kafka_port}",
             "--advertised-listener-url", f"tcp://127.0.0.1:{kafka_port}", "--storage-engine", "memory://tansu/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        # Every host:port of the file becomes a loopback port: the services' gRPC and HTTP ports
        # per container, and the infrastructure's.
        boxoffice = {name: s for name, s in compose["services"].items() if "--service" in (s.get("command") or [])}
        ports = {}
        for name in boxoffice:
            for default in (8080, 9090, 50051, 50052, 50053):
                ports[(name, default)] = free_port()
        by_role = {}
        for name, service in boxoffice.items():
            command = service["command"]
            by_role.setdefault(command[command.index("--service") + 1], []).append(name)
        infra = {"postgres:5432": None, "redis:6379": None, "kafka:9092": f"127.0.0.1:{kafka_port}"}
        secrets_env = {
            "POSTGRES_PASSWORD": "unused",
            "BOXOFFICE_JWT_SECRET": secrets.token_urlsafe(32),
            "BOXOFFICE_TICKET_SECRET": secrets.token_urlsafe(32),
            "BOXOFFICE_INTERNAL_TOKEN": secrets.token_urlsafe(32),
        }
        prefix = f"compose:{uuid.uuid4().hex}:"

        def environment(name, turn):
            env = {}
            for key, value in (boxoffice[name].get("environment") or {}).items():
                value = str(value)
                # ${VAR:-default} and ${VAR:?message}, as Compose reads them, from the secrets above.
                value = re.sub(r"\$\{(\w+)(?::[-?]([^}]*))?\}",
                               lambda m: secrets_env.get(m.group(1), m.group(2) or ""), value)
                env[key] = value
            env["BOXOFFICE_DATABASE_URL"] = f"{base}/{database}"
            env["BOXOFFICE_REDIS_URL"] = redis_url
            env["BOXOFFICE_REDIS_KEY_PREFIX"] = prefix
            env["BOXOFFICE_KAFKA_BROKERS"] = infra["kafka:9092"]
            env.pop("BOXOFFICE_SMTP_URL", None)  # the emails go to files
            env["BOXOFFICE_DATA_DIR"] = os.path.join(work, name)
            # A container's own ports, on loopback.
            env["BOXOFFICE_HTTP_ADDR"] = f"127.0.0.1:{ports[(name, 8080)]}"
            env["BOXOFFICE_ADMIN_ADDR"] = f"127.0.0.1:{ports[(name, 9090)]}"
            for role, port in (("USERS", 50051), ("EVENTS", 50052), ("BOOKINGS", 50053)):
                env[f"BOXOFFICE_{role}_GRPC_ADDR"] = f"127.0.0.1:{ports[(name, port)]}"
            # Other containers' addresses: the one of that role, the load balancer's in turn.
            for role, port in (("users", 50051), ("events", 50052), ("bookings", 50053)):
                replicas = by_role[role]
                target = replicas[turn % len(replicas)]
                env[f"BOXOFFICE_{role.upper()}_URL"] = f"http://127.0.0.1:{ports[(target, port)]}"
            env["RUST_LOG"] = "warn"
            return env

        # The migration job first, then the services in the file's order.
        migrate = compose["services"]["migrate"]
        job = dict(os.environ, **environment(next(iter(boxoffice)), 0))
        subprocess.run([binary] + migrate["command"], env=job, check=True, stdout=subprocess.DEVNULL)
        turns = {}
        started = {}
        for name, service in boxoffice.items():
            role = service["command"][service["command"].index("--service") + 1]
            turn = turns.get(role, 0)
            turns[role] = turn + 1
            env = dict(os.environ, **environment(name, turn))
            env = {key: value for key, value in env.items() if not key.startswith("BOXOFFICE_TEST")}
            log = open(os.path.join(work, f"{name}.log"), "w")
            process = subprocess.Popen([binary] + service["command"], env=env, stdout=log, stderr=log)
            processes.append(process)
            started[name] = (process, env)
        for name, (process, env) in started.items():
            wait_for(f"http://{env['BOXOFFICE_ADMIN_ADDR']}/readyz", process, name, os.path.join(work, f"{name}.log"))
        gateways = [f"http://{started[name][1]['BOXOFFICE_HTTP_ADDR']}" for name in by_role["gateway"]]
        print(f"compose-as-processes: {len(started)} services ready; gateways {gateways}", file=sys.stderr)

        # A short flash sale through every gateway: the bench checks that nothing was sold twice.
        bench_env = dict(started[by_role["gateway"][0]][1])
        bench = [binary, "bench", "flash-sale", "--units", "300", "--buyers", "3000", "--concurrency", "64", "--quiet"]
        for url in gateways:
            bench += ["--url", url]
        result = subprocess.run(bench, env=dict(os.environ, **bench_env), capture_output=True, text=True)
        print(result.stdout, end="")
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            raise SystemExit("compose-as-processes: the flash sale through both gateways failed")
        report = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"compose-as-processes: flash sale through {len(gateways)} gateways: consistent", file=sys.stderr)
        return report
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        subprocess.run(psql + [f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
