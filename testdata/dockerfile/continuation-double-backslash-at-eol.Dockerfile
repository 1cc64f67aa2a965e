FROM alpine:3.20
RUN echo C:\\
FROM busybox:1.36
