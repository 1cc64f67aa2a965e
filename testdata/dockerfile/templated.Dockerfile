ARG GO=1.22
ARG REG=ghcr.io
FROM golang:${GO}-alpine
FROM ${REG}/app:1
FROM $REG$GO
