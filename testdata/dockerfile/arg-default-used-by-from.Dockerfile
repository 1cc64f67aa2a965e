ARG BASE=python:3.12
ARG RUNTIME="gcr.io/distroless/python3:nonroot"
FROM ${BASE} AS build
FROM $BASE AS test
FROM "${RUNTIME}"
