#!/bin/sh
export BASE_IMAGE="python:3.12-slim"
# pin:ignore
BASE_IMAGE=python:3.11
BASE_IMAGE=$REGISTRY/app:1
docker build --build-arg BASE_IMAGE .
