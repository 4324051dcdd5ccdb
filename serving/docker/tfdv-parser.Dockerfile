# The TFDV parser service (`tfdv-parser`): a run's statistics and schema as JSON and HTML for the
# app. Built from the repository root by `make images`:
#   docker build -f serving/docker/tfdv-parser.Dockerfile -t <repo>/tfdv-parser:<release> .
# Python 3.10 and exactly the pins of requirements.lock (TFDV's stack). The artifact roots come
# from ARTIFACT_ROOTS, which the tenant's Cloud Run service sets to its runs' buckets.
FROM python:3.10.13-slim

WORKDIR /app
COPY requirements.lock /app/requirements.lock
RUN python -m pip install --no-cache-dir --no-deps -r /app/requirements.lock

COPY serving/ /app/serving/
ENV PYTHONPATH=/app PORT=8080 TF_CPP_MIN_LOG_LEVEL=2
EXPOSE 8080
ENTRYPOINT ["python", "-m", "serving.tfdv_service", "--host", "0.0.0.0"]
