FROM alpine:3.20
ONBUILD COPY --from=node:20 /usr/local/bin/node /usr/local/bin/
ONBUILD RUN --mount=type=bind,from=busybox:1.36,target=/bb true
ONBUILD FROM evil:1
ONBUILD COPY --from=${NODE:-node:22} /a /b
ONBUILD COPY --from=$NODE /a /b
