"""Checks the Grafana dashboard and the Prometheus alert rules of deploy/observability: every
metric their PromQL names is one boxoffice records (the catalog of crates/telemetry, with a
histogram's _bucket, _sum and _count series), the rules have the shape Prometheus loads (groups
of rules with an alert, an expression, a severity and a summary), and the dashboard's panels
each have a query.

    python3 scripts/lib/check_observability.py
"""

import json
import re
import sys

import yaml

# What PromQL names that is not a metric: functions, operators, modifiers.
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "rate", "irate", "increase", "histogram_quantile",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "offset", "bool", "abs", "clamp_min", "clamp_max", "time", "vector", "scalar",
}
# Series Prometheus makes itself for every target it scrapes.
SCRAPE_SERIES = {"up"}


def catalog():
    source = open("crates/telemetry/src/catalog.rs").read()
    names = {}
    for name, kind in re.findall(r'metric\("([a-z_:]+)",\s*(Counter|Gauge|Histogram)', source):
        names[name] = kind
    return names


def metrics_in(expr):
    """The metric names of a PromQL expression."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
    expr = re.sub(r"\$\w+", "", expr)  # template variables
    words = re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr)
    return {word for word in words if word not in PROMQL_WORDS and not re.fullmatch(r"[0-9e]+", word)}


def known(name, names):
    if name in names or name in SCRAPE_SERIES:
        return True
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and names.get(name[: -len(suffix)]) == "Histogram":
            return True
    return False


def main():
    names = catalog()
    problems = []
    expressions = []

    rules = yaml.safe_load(open("deploy/observability/prometheus-rules.yaml"))
    alerts = 0
    for group in rules.get("groups", []):
        if not group.get("name"):
            problems.append("a rule group has no name")
        for rule in group.get("rules", []):
            where = f"alert {rule.get('alert')}"
            alerts += 1
            for key in ("alert", "expr"):
                if not rule.get(key):
                    problems.append(f"{where}: no {key}")
            if rule.get("labels", {}).get("severity") not in ("page", "warn"):
                problems.append(f"{where}: severity is not page or warn")
            if not rule.get("annotations", {}).get("summary"):
                problems.append(f"{where}: no summary")
            expressions.append((where, rule.get("expr", "")))
    wanted = {"outbox_oldest_pending_age_seconds", "http_requests_total", "http_request_duration_seconds_bucket", "service_ready"}
    alerted = set().union(*(metrics_in(expr) for _, expr in expressions)) if expressions else set()
    for name in sorted(wanted - alerted):
        problems.append(f"no alert on {name}")

    dashboard = json.load(open("deploy/observability/grafana-dashboard.json"))
    panels = dashboard.get("panels", [])
    for panel in panels:
        targets = panel.get("targets", [])
        if not targets:
            problems.append(f"panel {panel.get('title')}: no query")
        for target in targets:
            expressions.append((f"panel {panel.get('title')}", target.get("expr", "")))

    used = set()
    for where, expr in expressions:
        for name in metrics_in(expr):
            used.add(name)
            if not known(name, names):
                problems.append(f"{where}: {name} is not a metric boxoffice records")

    for problem in problems:
        print(f"check_observability: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"check_observability: {alerts} alert rules and {len(panels)} dashboard panels name only the {len(names)} metrics boxoffice records")


if __name__ == "__main__":
    main()
