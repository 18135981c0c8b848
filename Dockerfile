# event-aggregator: the HTTP server (default command) and the CLI, on node:20-slim.
# Built and run on a real engine by scripts/docker-test.sh (CI); the README's Docker section has
# the commands it tests.
#   docker build -t event-aggregator .
#   docker build --build-arg NPM_CONFIG_REGISTRY=https://npm.example.com/ -t event-aggregator .
#   docker run -p 8080:8080 -v ea-data:/app/data event-aggregator

# --- build: compile better-sqlite3 and the TypeScript packages, then keep production deps only
FROM node:20-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# The npm registry to install from (a company mirror, a pass-through); unset or empty: npm's own.
# npm reads it from the environment; it is not kept in the runtime image.
ARG NPM_CONFIG_REGISTRY
WORKDIR /app
# Dependencies from the manifests alone, so that changing sources does not reinstall them (and
# recompile better-sqlite3). One line per workspace: a new package must be added here.
COPY package.json package-lock.json ./
COPY packages/api/package.json packages/api/
COPY packages/client/package.json packages/client/
COPY packages/core/package.json packages/core/
COPY packages/server/package.json packages/server/
COPY packages/cli/package.json packages/cli/
COPY packages/cli/bin packages/cli/bin
COPY packages/postgres/package.json packages/postgres/
# --ignore-scripts: the root's `prepare` (the build) needs the sources, copied below; the
# dependencies' own install steps then run by name.
RUN npm ci --no-audit --no-fund --ignore-scripts \
 && npm rebuild better-sqlite3 esbuild
COPY tsconfig.base.json tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.mjs scripts/
COPY packages packages
# Then production dependencies only, and of better-sqlite3 only the addon it loads (its SQLite
# sources and object files are ~25 MB). /out/packages: what runs of each package (package.json,
# bin/, dist/ whole: the bundles and what the server serves), without src/ or test/.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
 && find node_modules/better-sqlite3/build -type f ! -path "*/build/Release/better_sqlite3.node" -delete \
 && for p in packages/*/; do \
      mkdir -p "/out/$p" && cp -a "$p/package.json" "$p/dist" "/out/$p" \
      && if [ -d "$p/bin" ]; then cp -a "$p/bin" "/out/$p"; fi; \
    done

# --- runtime: node, production dependencies, the bundles; no compilers, no sources
FROM node:20-slim
ENV NODE_ENV=production PORT=8080 HOST=0.0.0.0 DEDUP_DB_PATH=/app/data/dedup.sqlite
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /out/packages ./packages
COPY scripts/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Starts as root to make the data directory writable, then runs the command as `node` (uid 1000);
# with --user it runs as that user. Either way node replaces the entrypoint (PID 1): `docker
# stop`'s SIGTERM drains the queue, commits and exits 0.
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["node", "packages/server/dist/main.bundle.js"]
