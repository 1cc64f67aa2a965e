ARG A B
ARG C=alpine:3.20 D='busybox:1.36'
FROM $C
FROM $D
FROM $A
FROM ${B:-debian:12}
