"""Runs the split deployment of docker-compose.yml as local processes on loopback
(scripts/lib/deployment.py: every boxoffice service of the file with its own command and
environment, the containers' host names and ports mapped to free loopback ports), against the
test machine's PostgreSQL (a database of its own), Redis (a key prefix of its own) and a tansu
broker, waits until each answers its readiness check, then runs a short flash sale through both
gateways and checks nothing was oversold.

    python3 scripts/lib/compose_as_processes.py <boxoffice binary> <tansu binary>

Environment: BOXOFFICE_TEST_DATABASE_URL (an admin connection), BOXOFFICE_TEST_REDIS_URL.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from deployment import Broker, Deployment  # noqa: E402


def main():
    binary, tansu = sys.argv[1], sys.argv[2]
    admin_url = os.environ.get("BOXOFFICE_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("BOXOFFICE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
    database = f"boxoffice_compose_{uuid.uuid4().hex}"
    base = admin_url.rsplit("/", 1)[0]
    work = tempfile.mkdtemp(prefix="boxoffice-compose-")
    psql = ["psql", admin_url, "-q", "-v", "ON_ERROR_STOP=1", "-c"]
    subprocess.run(psql + [f"CREATE DATABASE {database}"], check=True)
    prefix = f"compose:{uuid.uuid4().hex}:"
    broker = None
    deployment = None
    try:
        broker = Broker(tansu, work)
        deployment = Deployment(binary, work, f"{base}/{database}", redis_url, broker.address,
                                redis_prefix=prefix)
        deployment.start_all()
        gateways = deployment.gateways()
        print(f"compose-as-processes: {len(deployment.processes)} services ready; gateways {gateways}",
              file=sys.stderr)

        # A short flash sale through every gateway: the bench checks that nothing was sold twice.
        bench = [binary, "bench", "flash-sale", "--units", "300", "--buyers", "3000", "--concurrency", "64", "--quiet"]
        for url in gateways:
            bench += ["--url", url]
        result = subprocess.run(bench, env=deployment.bench_environment(), capture_output=True, text=True)
        print(result.stdout, end="")
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            raise SystemExit("compose-as-processes: the flash sale through both gateways failed")
        report = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"compose-as-processes: flash sale through {len(gateways)} gateways: consistent", file=sys.stderr)
        return report
    finally:
        if deployment:
            deployment.stop_all()
        if broker:
            broker.stop()
        subprocess.run(psql + [f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"], check=False)
        # Only this run's keys: the Redis is the machine's.
        keys = subprocess.run(["redis-cli", "-u", redis_url, "--scan", "--pattern", f"{prefix}*"],
                              capture_output=True, text=True).stdout.split()
        for start in range(0, len(keys), 500):
            subprocess.run(["redis-cli", "-u", redis_url, "del", *keys[start:start + 500]],
                           stdout=subprocess.DEVNULL, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
