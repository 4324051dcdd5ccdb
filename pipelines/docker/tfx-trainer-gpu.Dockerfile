# The GPU trainer image (`tfx-trainer-gpu`): the pipeline image on CUDA, for tenants with GPUs
# (their pinned pipelines default `worker_image` to it, so the trainer's custom job runs here).
# Built from the repository root by `make images`:
#   docker build -f pipelines/docker/tfx-trainer-gpu.Dockerfile -t <repo>/tfx-trainer-gpu:<release> .
# TensorFlow 2.16 wheels are built against CUDA 12.3 and cuDNN 8.9.
FROM nvidia/cuda:12.3.2-cudnn9-runtime-ubuntu22.04

# Ubuntu 22.04's own Python is 3.10, the platform's; the base image's tag pins the distro.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-pip \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s /usr/bin/python3 /usr/local/bin/python

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
ENV PYTHONPATH=/app TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2
