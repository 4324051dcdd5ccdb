# The pipeline image (`tfx-trainer`): every component of the compiled templates runs in it (the
# IR's executors name `<platform registry>/tfx-trainer:<release>`), and so does the CPU trainer.
# Built from the repository root by `make images`:
#   docker build -f pipelines/docker/tfx-trainer.Dockerfile -t <repo>/tfx-trainer:<release> .
# Python 3.10 and exactly the pins of requirements.lock (installed without resolving again).
FROM python:3.10.13-slim

WORKDIR /app
COPY requirements.lock /app/requirements.lock
RUN python -m pip install --no-cache-dir --no-deps -r /app/requirements.lock

COPY specs/ /app/specs/
COPY codegen/ /app/codegen/
COPY trainer/ /app/trainer/
COPY components/ /app/components/
COPY pipelines/ /app/pipelines/
COPY registry/ /app/registry/
COPY serving/ /app/serving/
COPY infra/ /app/infra/
COPY etl/ /app/etl/
# TFRS needs the Keras 2 API (tf-keras); the platform sets it for every process of the image.
ENV PYTHONPATH=/app TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2
