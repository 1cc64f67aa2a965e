FROM golang:1.22 AS build
FROM alpine:3.20
COPY --from=0 /go/bin/app /app
COPY --from=nginx:1.27 /etc/nginx/nginx.conf /etc/nginx/
COPY --chown=1:1 --from="ghcr.io/org/tool:v1" /tool /tool
COPY --from build /x /y
ADD --from=nope:1 /x /y
