# syntax=docker/dockerfile:1

# escape=`
FROM alpine:3.20 \
  AS base
