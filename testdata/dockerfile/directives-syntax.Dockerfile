#  Syntax = docker/dockerfile:1.7
# escape=\
FROM alpine:3.20
