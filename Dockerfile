# event-aggregator HTTP server. Not built here (no Docker engine on the machine it was written on).
# Build: docker build -t event-aggregator .   Run: docker run -p 8080:8080 -v ea-data:/app/data event-aggregator

# --- build: compile better-sqlite3 and the TypeScript packages, then keep production deps only
FROM node:20-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json tsconfig.json tsconfig.build.json ./
COPY packages ./packages
COPY scripts ./scripts
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund

# --- runtime: no compilers, non-root, data in a volume
FROM node:20-slim
ENV NODE_ENV=production PORT=8080 HOST=0.0.0.0 DEDUP_DB_PATH=/app/data/dedup.sqlite
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/packages ./packages
RUN mkdir -p /app/data && chown -R node:node /app/data
USER node
VOLUME ["/app/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# SIGTERM from `docker stop` drains the queue and exits 0 (node is PID 1 and handles signals itself).
CMD ["node", "packages/server/dist/main.bundle.js"]
