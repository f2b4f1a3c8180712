# One image for every Gatehouse service; the build argument SERVICE picks which one runs:
#   docker build --build-arg SERVICE=cert-issuer -t gatehouse-cert-issuer .
# Node 24 runs the TypeScript sources directly (type stripping), so there is no JS build step.
# BASE is any image with Node 24 and npm on PATH, a `node` user (uid 1000) and a shell: the official one by
# default; `scripts/images` builds one from Debian packages where no registry is reachable.
ARG BASE=node:24-bookworm-slim

# ---- manifests: the lockfile and every workspace's package.json, nothing else ------------------------------------
FROM ${BASE} AS manifests
WORKDIR /app
# Manifests first, so source edits do not invalidate the `npm ci` layer. Every workspace needs its package.json
# here (npm ci refuses a lockfile whose workspaces are missing); infra/test/compose.test.ts checks the list.
COPY package.json package-lock.json .npmrc ./
COPY shared/acme-http/package.json shared/acme-http/
COPY shared/config/package.json shared/config/
COPY shared/db/package.json shared/db/
COPY shared/events/package.json shared/events/
COPY shared/messaging/package.json shared/messaging/
COPY shared/pki/package.json shared/pki/
COPY shared/rate-limits/package.json shared/rate-limits/
COPY shared/runtime/package.json shared/runtime/
COPY shared/telemetry/package.json shared/telemetry/
COPY shared/service-harness/package.json shared/service-harness/
COPY shared/testing/package.json shared/testing/
COPY services/api/package.json services/api/
COPY services/cli/package.json services/cli/
COPY services/cert-issuer/package.json services/cert-issuer/
COPY services/deployer/package.json services/deployer/
COPY services/notifier/package.json services/notifier/
COPY services/proxy-config/package.json services/proxy-config/
COPY services/renewal-scheduler/package.json services/renewal-scheduler/

# ---- deps: every dependency, dev included, for the type check --------------------------------------------------
FROM ${BASE} AS deps
WORKDIR /app
COPY --from=manifests /app/ ./
# `npm ci` refuses the lock file where the registry serves only this platform's optional packages (see the
# README, "Why npm ci may fall back"); then the same locked versions are installed with `npm install --no-save`.
RUN npm ci --no-audit --no-fund || npm install --no-save --no-audit --no-fund

# ---- check: the type check must pass for an image to be built ----------------------------------------------------
FROM deps AS check
ENV TURBO_TELEMETRY_DISABLED=1
COPY tsconfig.json turbo.json ./
COPY shared/ shared/
COPY services/ services/
RUN npm run typecheck && touch /tmp/typecheck.ok

# ---- runtime: production dependencies and sources only ---------------------------------------------------------
FROM ${BASE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=manifests /app/ ./
# --omit=dev also leaves out the root devDependency `node` (a Node binary from npm): the image's own Node 24 runs.
RUN { npm ci --omit=dev --no-audit --no-fund || npm install --no-save --omit=dev --no-audit --no-fund; } \
  && npm cache clean --force
# BuildKit builds only the stages the target needs; this copy makes the runtime image depend on the check stage.
COPY --from=check /tmp/typecheck.ok /tmp/typecheck.ok
COPY shared/ shared/
COPY services/ services/
# proxy-config writes Traefik's dynamic files and certificates here. A named volume mounted on an empty directory
# takes that directory's owner, so these being owned by `node` lets the non-root process write into the volumes.
RUN mkdir -p /etc/traefik/dynamic /etc/traefik/certs && chown node:node /etc/traefik/dynamic /etc/traefik/certs

USER node
# Declared late so every layer above is shared between the six service images.
ARG SERVICE
ENV SERVICE=${SERVICE}
# Probes /healthz on the port of HEALTH_LISTEN (host:port), else the service's default health port.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const d={'api':9101,'deployer':9102,'cert-issuer':9103,'renewal-scheduler':9104,'proxy-config':9105,'notifier':9106};const l=process.env.HEALTH_LISTEN;const p=l?l.slice(l.lastIndexOf(':')+1):d[process.env.SERVICE];fetch('http://127.0.0.1:'+p+'/healthz',{signal:AbortSignal.timeout(4000)}).then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# exec: node becomes the process that receives SIGTERM (compose adds an init with `init: true`).
CMD ["sh", "-c", "test -f \"services/$SERVICE/src/main.ts\" || { echo \"unknown SERVICE '$SERVICE': build with --build-arg SERVICE=<name of a folder in services/>\" >&2; exit 64; }; exec node \"services/$SERVICE/src/main.ts\""]
