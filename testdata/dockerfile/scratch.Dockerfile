FROM scratch
COPY --from=scratch / /
FROM scratch AS final
