# syntax=docker/dockerfile:1
FROM python:3.12 \
  AS build
COPY --from=build /a /b
FROM alpine:3.20