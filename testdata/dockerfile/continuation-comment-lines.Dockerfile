FROM \
# the base image
    python:3.12-slim \

    AS app
RUN pip install \
  # pinned deps
  -r requirements.txt
