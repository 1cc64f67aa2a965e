FROM "python:3.12" AS a
FROM 'alpine:3.20'
COPY --from="nginx:1.27" /a /b
FROM py"thon:3.12"
