# The native serving image (`serving.routing.RUNTIME_IMAGES["native"]`): TF Serving for brute-force
# models. Built from the repository root:
#   docker build -f serving/docker/tf-serving-native.Dockerfile -t <repo>/tf-serving-native:<release> .
# TF Serving's release follows the trainer's TensorFlow (2.16); the startup script fetches the
# registered version from GCS with google-cloud-storage, pinned as in requirements.lock.
FROM tensorflow/serving:2.16.1

# Ubuntu's point releases replace exact package versions; the base image's tag pins the distro.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-pip \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m pip install --no-cache-dir google-cloud-storage==2.19.0

COPY serving/__init__.py serving/startup.py /app/serving/
ENV PYTHONPATH=/app PORT=8080
EXPOSE 8080
ENTRYPOINT ["python3", "-m", "serving.startup", "--runtime", "native"]
