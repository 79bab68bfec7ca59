# calico-datastore-migration: the DatastoreMigration controller and the calico-migrate CLI.
# Build: docker build -t calico-datastore-migration:0.1.0 .
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER 10001:10001
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["--help"]
