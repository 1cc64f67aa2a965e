ARG TOOLS=ghcr.io/org/tools:1
FROM alpine:3.20
ARG TOOLS
ARG LOCAL=busybox:1.36
COPY --from=${TOOLS} /t /t
COPY --from=$LOCAL /b /b
COPY --from=$UNKNOWN /u /u
COPY --from=${UNKNOWN:-nginx:1.27} /n /n
COPY --from=tools-${TOOLS} /x /x
