# The trueup image: one image, two services. `node bin/trueup.js api` serves the HTTP API,
# `node bin/trueup.js worker` runs the Temporal worker; both read DATABASE_URL and
# TEMPORAL_ADDRESS (see docs/configuration.md).
FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    TRUEUP_DATA_DIR=/var/lib/trueup

WORKDIR /app
COPY package.json package-lock.json ./
# Development tools (the test servers, TypeScript's checker) stay out of the image.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
COPY examples ./examples
COPY tsconfig.json ./

RUN mkdir -p /var/lib/trueup && chown node:node /var/lib/trueup
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=5 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/v1/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "bin/trueup.js", "api"]
