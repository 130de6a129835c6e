# syntax=docker/dockerfile:1
# wasm-repl server image.
#
#   docker build -t wasm-repl:latest .
#   docker build --build-arg PYODIDE_FULL=true -t wasm-repl:full .   # + the full Pyodide release
#   docker build --build-arg PRELOAD_PACKAGES=tabulate,jinja2 ...    # imported into every session
#
# Stages: deps (production node_modules, with the Deno binary) -> packages (the package repository:
# Debian's pure-Python packages, and the full Pyodide release when PYODIDE_FULL=true) -> snapshot
# (builds the base memory snapshot once, at image build time) -> runtime.
# The runtime runs as uid 10001 and needs to write only to CACHE_DIR and /tmp (Kubernetes mounts
# emptyDirs there; see k8s/base/deployment.yaml).

ARG NODE_IMAGE=node:20-bookworm-slim

# --- deps: node_modules without devDependencies ---------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
# The server's runtime dependencies (tsx, deno, pyodide, ...) are those of the workspace server/
# (server/package.json), which npm ci installs with the root's; --omit=dev keeps them and leaves out
# the test tools. The root's prepare script (the SDK build) skips itself here: no tsconfig.build.json.
COPY package.json package-lock.json ./
COPY server/package.json server/
# The Deno binary arrives with the npm package `deno` through its optional dependency for this
# platform (@deno/linux-x64-glibc or @deno/linux-arm64-glibc); its postinstall script links it to
# node_modules/deno/deno, which is what server/sandbox/launch.ts finds (deno/install_api.cjs
# runInstall). Install scripts must therefore not be disabled here. The last command fails the build if the binary is missing.
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force \
 && "$(node -p 'require("deno/install_api.cjs").runInstall()')" --version

# --- packages: the package repository sessions load packages from --------------------------------
# `npm run packages` builds it (server/packages/build.ts) in the layout of a Pyodide release: a
# pyodide-lock.json and the wheels it names. It always holds the pure-Python Debian packages of
# DEBIAN_PACKAGES, repacked as py3-none-any wheels (each one imported in a real sandbox first:
# --check leaves out what fails on Pyodide's Python). With PYODIDE_FULL=true it also holds the full
# Pyodide release (pyodide-<version>.tar.bz2 from Pyodide's GitHub releases; numpy, pandas,
# matplotlib and the rest), downloaded here so that nothing is fetched at run time;
# PYODIDE_RELEASE_URL overrides where the tarball comes from (a mirror). The version is the npm
# package's, so the wheels match the interpreter. The server reads it through PYODIDE_PACKAGES_DIR
# (set below); the sandbox may read it, and nothing else of it.
FROM deps AS packages
ARG PYODIDE_FULL=false
ARG PYODIDE_RELEASE_URL=
ARG DEBIAN_PACKAGES="python3-tabulate python3-networkx python3-sympy python3-mpmath python3-jinja2 python3-markupsafe python3-yaml python3-bs4 python3-soupsieve"
COPY server/ server/
COPY protocol/ protocol/
COPY rlm/ rlm/
# --check boots sandboxes: their base snapshot goes to a scratch cache, not into the image.
ENV CACHE_DIR=/tmp/packages-cache
RUN set -eu; \
    apt-get update; \
    apt-get install -y --no-install-recommends bzip2 ca-certificates curl $DEBIAN_PACKAGES; \
    release=""; \
    if [ "$PYODIDE_FULL" = "true" ]; then \
      version="$(node -p 'require("pyodide/package.json").version')"; \
      url="${PYODIDE_RELEASE_URL:-https://github.com/pyodide/pyodide/releases/download/${version}/pyodide-${version}.tar.bz2}"; \
      curl --fail --location --retry 3 --output /tmp/pyodide.tar.bz2 "$url"; \
      release="--release /tmp/pyodide.tar.bz2"; \
    fi; \
    npm run packages -- $release --debian "$(echo $DEBIAN_PACKAGES | tr ' ' ',')" --check --out /opt/pyodide-packages; \
    test -f /opt/pyodide-packages/pyodide-lock.json; \
    rm -rf /tmp/pyodide.tar.bz2 /tmp/packages-cache /var/lib/apt/lists/*

# --- snapshot: the base memory snapshot every sandbox boots from ----------------------------------
# Built here once (10-60 s) instead of at every pod's first start. Its file name carries a key made
# of the Pyodide version, the guest code and the preloaded packages, so it matches the server/ and
# the settings of the runtime stage below (the same files at the same path /app, the same
# PYODIDE_PACKAGES_DIR and PRELOAD_PACKAGES). PRELOAD_PACKAGES (pure-Python ones: a memory
# snapshot cannot keep compiled code) are imported into it, so every session starts with them.
FROM deps AS snapshot
ARG PRELOAD_PACKAGES=
# The configuration it loads imports the model client of rlm/.
COPY server/ server/
COPY protocol/ protocol/
COPY rlm/ rlm/
COPY --from=packages /opt/pyodide-packages /opt/pyodide-packages
ENV CACHE_DIR=/var/cache/wasm-repl \
    PYODIDE_PACKAGES_DIR=/opt/pyodide-packages \
    PRELOAD_PACKAGES=${PRELOAD_PACKAGES}
RUN npm run build

# --- runtime ---------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG PRELOAD_PACKAGES=
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    CACHE_DIR=/var/cache/wasm-repl \
    PYODIDE_PACKAGES_DIR=/opt/pyodide-packages \
    PRELOAD_PACKAGES=${PRELOAD_PACKAGES}
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
# The notebook page's sources: the server bundles them at start-up into CACHE_DIR (esbuild is a
# runtime dependency) unless PAGE=false.
COPY page/ page/
# The base snapshot and Deno's cache of the guest code, writable by the server (a missing or stale
# snapshot is rebuilt there). In Kubernetes an emptyDir covers this directory and an init container
# copies these files into it first.
COPY --from=snapshot --chown=10001:10001 /var/cache/wasm-repl /var/cache/wasm-repl
# The package repository, read-only for the server (owned by root).
COPY --from=packages /opt/pyodide-packages /opt/pyodide-packages
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
