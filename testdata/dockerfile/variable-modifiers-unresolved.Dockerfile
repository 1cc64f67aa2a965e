ARG IMG=alpine:3.20
FROM ${IMG:+busybox:1.36}
FROM ${IMG:?required}
FROM ${IMG+x}
FROM ${IMG?err}
