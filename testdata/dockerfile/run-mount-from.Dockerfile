ARG IMG=alpine:3.20
FROM alpine:3.20 AS base
RUN --mount=type=bind,from=python:3.12,source=/usr,target=/py \
    --mount="type=cache,from=base,target=/c" \
    --mount=type=bind,"from=ghcr.io/o/r:1",target=/x ls
RUN --mount=type=secret,id=x cat /run/secrets/x
RUN --mount=type=bind,from=${IMG},target=/i true
