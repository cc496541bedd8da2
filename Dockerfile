# syntax=docker/dockerfile:1
# Tollgate: build stage compiles TypeScript; runtime stage carries only production dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
# tini as PID 1: forwards SIGTERM/SIGINT to node (which drains, then exits) and reaps the orphans that
# stdio upstreams leave (npx → node): node as PID 1 would leave them as zombies.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY schema ./schema
# Config and policies are mounted read-only: -v ./tollgate.yaml:/etc/tollgate/tollgate.yaml:ro
# -v ./policies:/etc/tollgate/policies:ro. What the gateway writes (audit log, pin file) goes to the
# data volume /var/lib/tollgate, created here and owned by `node`: a fresh named volume copies this
# directory's owner, so the non-root process can write to it (otherwise it is root's: EACCES).
RUN mkdir -p /etc/tollgate/policies /var/lib/tollgate && chown node:node /var/lib/tollgate
VOLUME ["/var/lib/tollgate"]
ENV TOLLGATE_CONFIG=/etc/tollgate/tollgate.yaml
USER node
# 8080: MCP endpoint (/mcp, /sse), /admin, /metrics, /healthz, /readyz
EXPOSE 8080
# Healthy = ready to serve (/readyz: an upstream is usable and the process is not draining); compose's
# `depends_on: condition: service_healthy` waits for it. Port 8080: keep server.port at 8080 in the
# container (publish it elsewhere with -p).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# --max-semi-space-size: the young generation serving wants (src/cli/gc-tuning.ts).
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-semi-space-size=32", "bin/tollgate.mjs"]
CMD ["serve", "--host", "0.0.0.0"]
