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
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY schema ./schema
# Config and policies are mounted: -v ./tollgate.yaml:/etc/tollgate/tollgate.yaml -v ./policies:/etc/tollgate/policies
ENV TOLLGATE_CONFIG=/etc/tollgate/tollgate.yaml
USER node
# 8080: MCP endpoint (/mcp, /sse), /healthz
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/tollgate.mjs"]
CMD ["serve", "--host", "0.0.0.0"]
