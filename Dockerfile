# syntax=docker/dockerfile:1
# wasm-repl server image.
#
#   docker build -t wasm-repl:latest .
#   docker build --build-arg PYODIDE_FULL=true -t wasm-repl:full .   # + the full Pyodide release
#
# Stages: deps (production node_modules, with the Deno binary) -> snapshot (builds the base memory
# snapshot once, at image build time) -> pyodide (optional full Pyodide release) -> runtime.
# The runtime runs as uid 10001 and needs to write only to CACHE_DIR and /tmp (Kubernetes mounts
# emptyDirs there; see k8s/base/deployment.yaml).

ARG NODE_IMAGE=node:20-bookworm-slim

# --- deps: node_modules without devDependencies ---------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# tsx is a runtime dependency, so --omit=dev keeps it. The Deno binary arrives with the npm
# package `deno` through its optional dependency for this platform (@deno/linux-x64-glibc or
# @deno/linux-arm64-glibc); its postinstall script links it to node_modules/deno/deno, which is
# what server/sandbox/launch.ts finds (deno/install_api.cjs runInstall). Install scripts must
# therefore not be disabled here. The last command fails the build if the binary is missing.
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force \
 && "$(node -p 'require("deno/install_api.cjs").runInstall()')" --version

# --- snapshot: the base memory snapshot every sandbox boots from ----------------------------------
# Built here once (10-60 s) instead of at every pod's first start. Its file name carries a key made
# of the Pyodide version and the guest code, so it matches the server/ copied into the runtime
# stage below (the same files, at the same path /app).
FROM deps AS snapshot
# The configuration it loads imports the model client of rlm/.
COPY server/ server/
COPY protocol/ protocol/
COPY rlm/ rlm/
ENV CACHE_DIR=/var/cache/wasm-repl
RUN npm run build

# --- pyodide: the full Pyodide release, optional ---------------------------------------------------
# The npm package `pyodide` holds the interpreter and the standard library only; packages such as
# numpy and pandas are wheels in the full release (pyodide-<version>.tar.bz2 on Pyodide's GitHub
# releases). With PYODIDE_FULL=true they are downloaded at image build time into /opt/pyodide, so
# they load without network at run time; PYODIDE_RELEASE_URL overrides where the tarball comes from
# (a mirror). The version is the npm package's, so the wheels match the interpreter.
# The server does not read /opt/pyodide yet: it gives the sandbox the npm package's directory as
# Pyodide's indexURL and lets it read nothing else. To use these wheels it must take their
# directory from a setting (for example a PYODIDE_PACKAGES_DIR variable set to /opt/pyodide), add
# that directory to the sandbox's --allow-read list, and load the wheels (pyodide.loadPackage with
# that directory as the package base URL) before the sandbox revokes its read permission.
# With PYODIDE_FULL=false (the default) /opt/pyodide is an empty directory.
FROM ${NODE_IMAGE} AS pyodide
ARG PYODIDE_FULL=false
ARG PYODIDE_RELEASE_URL=
COPY --from=deps /app/node_modules/pyodide/package.json /tmp/pyodide-package.json
RUN set -eu; \
    mkdir -p /opt/pyodide; \
    if [ "$PYODIDE_FULL" = "true" ]; then \
      apt-get update; \
      apt-get install -y --no-install-recommends bzip2 ca-certificates curl; \
      version="$(node -p 'require("/tmp/pyodide-package.json").version')"; \
      url="${PYODIDE_RELEASE_URL:-https://github.com/pyodide/pyodide/releases/download/${version}/pyodide-${version}.tar.bz2}"; \
      curl --fail --location --retry 3 --output /tmp/pyodide.tar.bz2 "$url"; \
      tar -xjf /tmp/pyodide.tar.bz2 -C /opt/pyodide --strip-components=1; \
      test -f /opt/pyodide/pyodide-lock.json; \
      rm -rf /tmp/pyodide.tar.bz2 /var/lib/apt/lists/*; \
    fi

# --- runtime ---------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    CACHE_DIR=/var/cache/wasm-repl
WORKDIR /app
RUN groupadd --system --gid 10001 wasm-repl \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin wasm-repl
# Code and dependencies belong to root: the server cannot change them.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
# The server imports server/, protocol/ and rlm/ only; client/ (the SDK and CLI) is not in the image.
COPY server/ server/
COPY protocol/ protocol/
COPY rlm/ rlm/
# The base snapshot and Deno's cache of the guest code, writable by the server (a missing or stale
# snapshot is rebuilt there). In Kubernetes an emptyDir covers this directory and an init container
# copies these files into it first.
COPY --from=snapshot --chown=10001:10001 /var/cache/wasm-repl /var/cache/wasm-repl
COPY --from=pyodide /opt/pyodide /opt/pyodide
USER 10001:10001
EXPOSE 8000
# No curl in the slim image: Node asks /health itself. The first start without a snapshot takes
# up to a minute, hence the start period.
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node itself, not npm or npx: signals (SIGTERM starts the drain) reach the server directly, and
# nothing tries to write an npm cache on the read-only root file system. tsx compiles the
# TypeScript (its cache goes to /tmp).
CMD ["node", "--import", "tsx", "server/main.ts"]
