FROM Python:3.12
FROM python:3.12:slim
FROM {{.Image}}
FROM ${BROKEN
