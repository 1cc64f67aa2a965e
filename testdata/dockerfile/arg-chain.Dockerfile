ARG A=python:3.12
ARG B=${A}
ARG C="$B"
ARG X=alpine:3.20 Y=$X
FROM ${C} AS app
FROM $B AS test
FROM ${Y}
FROM $A
