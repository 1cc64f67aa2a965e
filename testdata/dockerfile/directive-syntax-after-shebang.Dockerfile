#!/usr/bin/env -S docker buildx build -f
# syntax=docker/dockerfile:1.7 --debug
# escape=`
FROM alpine:3.20 \
  AS base
