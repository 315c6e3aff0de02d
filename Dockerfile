# One image for the API, the worker and the one-shot migrator (they differ only by command).
FROM node:20-bookworm-slim AS base
RUN npm install -g pnpm@12
WORKDIR /app

# Compile every package with tsc.
FROM base AS build
COPY . .
RUN pnpm install --frozen-lockfile && pnpm build

# Production dependencies only.
FROM base AS prod-deps
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY packages/db/package.json packages/db/
COPY packages/contracts/package.json packages/contracts/
RUN pnpm install --frozen-lockfile --prod

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps --chown=node:node /app ./
COPY --from=build --chown=node:node /app/packages/contracts/dist packages/contracts/dist
COPY --from=build --chown=node:node /app/packages/db/dist packages/db/dist
COPY --from=build --chown=node:node /app/packages/db/migrations packages/db/migrations
COPY --from=build --chown=node:node /app/apps/api/dist apps/api/dist
COPY --from=build --chown=node:node /app/apps/worker/dist apps/worker/dist
USER node
CMD ["node", "apps/api/dist/server.js"]
