ARG BASE=alpine:3.20
FROM $BASE
COPY --from=${BASE} /a /a
COPY --from=${NONE:-nginx:1.27} /n /n
COPY --from="$BASE" /q /q
ONBUILD COPY --from=${BASE:-node:22} /o /o
COPY --from=nginx:1.27 /l /l
