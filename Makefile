# The targets people look for, each a thin call of the project's own commands and scripts.
# `make help` lists them.

CARGO ?= cargo
IMAGE ?= boxoffice:latest
COMPOSE ?= docker compose

.PHONY: help run test lint bench build image compose-up compose-down k8s-render

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-14s %s\n", $$1, $$2}'

run: ## Run boxoffice on the embedded default (http://127.0.0.1:8080)
	$(CARGO) run --release --locked --bin boxoffice -- serve

test: ## The whole test suite, installing what it needs (scripts/test)
	scripts/test

lint: ## Formatting and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

bench: ## The flash sale of BENCHMARKS.md on the embedded default (scripts/bench/flash-sale)
	scripts/bench/flash-sale embedded

build: ## The release binary (target/release/boxoffice)
	$(CARGO) build --release --locked --bin boxoffice

image: ## The container image (Dockerfile)
	docker build -t $(IMAGE) .

compose-up: ## Every service on PostgreSQL, Redis and Kafka (docker-compose.yml; needs .env)
	$(COMPOSE) up --build -d

compose-down: ## Stop the Compose deployment (its volumes stay)
	$(COMPOSE) down

k8s-render: ## The Kubernetes manifests of the production overlay, rendered
	kubectl kustomize deploy/k8s/overlays/production
