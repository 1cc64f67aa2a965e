# syntax=docker/dockerfile:1
FROM alpine:3.20 AS base
RUN <<EOF
FROM evil:1
EOF
COPY <<-"CONF" /etc/x.conf
	FROM evil:2
		CONF
RUN <<A cat - <<'B' > /out
FROM evil:3
A
FROM evil:4
B
RUN ["echo", "<<EOF"]
FROM base
