FROM node:20-alpine AS deps
WORKDIR /app
COPY package*.json ./
RUN npm ci \
    --omit=dev

FROM node:20-alpine
COPY --from=deps /app/node_modules ./node_modules
COPY . .
CMD ["node", "server.js"]
