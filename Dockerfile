# Troupe server image: docker build -t troupe .
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY packages ./packages
COPY schema.graphql ./
RUN npm ci --no-audit --no-fund && npx turbo run build --filter=@troupe/server...

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
EXPOSE 4000
USER node
ENTRYPOINT ["node", "packages/server/bin/troupe.mjs"]
CMD ["serve"]
