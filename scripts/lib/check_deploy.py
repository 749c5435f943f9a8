"""Checks the rendered Kubernetes manifests (YAML on stdin, from `kubectl kustomize`) and the
Compose file against what boxoffice reads: every container has liveness and readiness probes,
resource requests and limits, a non-root, read-only, no-escalation security context that drops
every capability; every BOXOFFICE_* variable set is a setting the binary reads (the KEYS of
crates/config); and each boxoffice service gets the settings it requires in split mode.

    kubectl kustomize deploy/k8s/overlays/production | python3 scripts/lib/check_deploy.py docker-compose.yml
"""

import re
import sys

import yaml

REQUIRED = {
    "all": {"BOXOFFICE_DATABASE_URL", "BOXOFFICE_REDIS_URL", "BOXOFFICE_INTERNAL_TOKEN", "BOXOFFICE_KAFKA_BROKERS"},
    "users": {"BOXOFFICE_JWT_SECRET", "BOXOFFICE_USERS_GRPC_ADDR"},
    "events": {"BOXOFFICE_EVENTS_GRPC_ADDR", "BOXOFFICE_BOOKINGS_URL"},
    "bookings": {"BOXOFFICE_TICKET_SECRET", "BOXOFFICE_BOOKINGS_GRPC_ADDR", "BOXOFFICE_EVENTS_URL"},
    "notifications": {"BOXOFFICE_USERS_URL", "BOXOFFICE_EVENTS_URL", "BOXOFFICE_MAIL_FROM"},
    "gateway": {"BOXOFFICE_JWT_SECRET", "BOXOFFICE_USERS_URL", "BOXOFFICE_EVENTS_URL", "BOXOFFICE_BOOKINGS_URL"},
}


def settings():
    source = open("crates/config/src/lib.rs").read()
    keys = re.search(r"pub const KEYS: &\[&str\] = &\[(.*?)\];", source, re.S).group(1)
    return {"BOXOFFICE_" + key.upper() for key in re.findall(r'"([a-z0-9_]+)"', keys)}


def main():
    known = settings()
    problems = []
    objects = [o for o in yaml.safe_load_all(sys.stdin) if o]
    config = {}
    for o in objects:
        if o["kind"] in ("ConfigMap", "Secret"):
            config.update(o.get("data") or {})
            config.update(o.get("stringData") or {})
    for name in config:
        if name.startswith("BOXOFFICE_") and name not in known:
            problems.append(f"Kubernetes sets {name}, which boxoffice does not read")
    checked = 0
    for o in objects:
        if o["kind"] not in ("Deployment", "Job"):
            continue
        spec = o["spec"]["template"]["spec"]
        pod_security = spec.get("securityContext") or {}
        for c in spec["containers"]:
            checked += 1
            where = f"{o['kind']} {o['metadata']['name']}, container {c['name']}"
            if o["kind"] == "Deployment":
                for probe in ("livenessProbe", "readinessProbe"):
                    if probe not in c:
                        problems.append(f"{where}: no {probe}")
            resources = c.get("resources") or {}
            for part in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(resources.get(part) or {}):
                    problems.append(f"{where}: no cpu and memory {part}")
            security = c.get("securityContext") or {}
            if not (security.get("runAsNonRoot") or pod_security.get("runAsNonRoot")):
                problems.append(f"{where}: not runAsNonRoot")
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: privilege escalation not refused")
            if security.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: root filesystem not read-only")
            if "ALL" not in ((security.get("capabilities") or {}).get("drop") or []):
                problems.append(f"{where}: capabilities not all dropped")
            env = set(config)
            for item in c.get("env") or []:
                env.add(item["name"])
            args = c.get("args") or []
            service = args[args.index("--service") + 1] if "--service" in args else None
            if service:
                missing = (REQUIRED["all"] | REQUIRED[service]) - env
                if missing:
                    problems.append(f"{where}: {service} needs {sorted(missing)}")
    if checked == 0:
        problems.append("no container found in the rendered manifests")

    compose = yaml.safe_load(open(sys.argv[1]))
    for name, service in compose["services"].items():
        environment = service.get("environment") or {}
        names = environment if isinstance(environment, dict) else [e.split("=")[0] for e in environment]
        for variable in names:
            if variable.startswith("BOXOFFICE_") and variable not in known:
                problems.append(f"compose service {name} sets {variable}, which boxoffice does not read")
        command = service.get("command") or []
        if "--service" in command:
            role = command[command.index("--service") + 1]
            missing = (REQUIRED["all"] | REQUIRED[role]) - set(names)
            if missing:
                problems.append(f"compose service {name}: {role} needs {sorted(missing)}")
            if "healthcheck" not in service:
                problems.append(f"compose service {name}: no health check")

    for problem in problems:
        print(f"check_deploy: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"check_deploy: {checked} containers and the Compose file agree with what boxoffice reads")


if __name__ == "__main__":
    main()
