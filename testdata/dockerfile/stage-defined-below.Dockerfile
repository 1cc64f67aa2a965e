FROM app AS base
FROM alpine:3.20 AS app
COPY --from=later /x /y
RUN --mount=type=cache,from=later,target=/root/.cache true
FROM busybox:1.36 AS later
