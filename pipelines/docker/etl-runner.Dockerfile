# The ETL runner (`etl-runner`): `python -m etl run` as the tenant's Cloud Run job (a window
# below a million rows), and the container of its Dataflow workers above that (etl/beam.py).
# Built from the repository root by `make images`:
#   docker build -f pipelines/docker/etl-runner.Dockerfile -t <repo>/etl-runner:<release> .
# Python 3.10 and exactly the pins of requirements.lock. It runs as the etl-runner identity;
# passwords come from Secret Manager references in the jobs, never from the image or its env.
FROM python:3.10.13-slim

WORKDIR /app
COPY requirements.lock /app/requirements.lock
RUN python -m pip install --no-cache-dir --no-deps -r /app/requirements.lock

COPY specs/ /app/specs/
COPY components/ /app/components/
COPY etl/ /app/etl/
ENV PYTHONPATH=/app
ENTRYPOINT ["python", "-m", "etl"]
