# build the app
# syntax=docker/dockerfile:1
FROM alpine:3.20
