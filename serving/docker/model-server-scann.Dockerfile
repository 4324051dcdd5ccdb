# The Python serving image (`serving.routing.RUNTIME_IMAGES["scann"]`): the platform's model server,
# which loads ScaNN's custom ops that TF Serving cannot. Built from the repository root:
#   docker build -f serving/docker/model-server-scann.Dockerfile -t <repo>/model-server-scann:<release> .
# Python 3.10 and the versions of requirements.lock (serving/docker/model-server-requirements.txt,
# checked against the lock by tests/serving/test_startup.py).
FROM python:3.10.13-slim

COPY serving/docker/model-server-requirements.txt /app/requirements.txt
RUN python -m pip install --no-cache-dir -r /app/requirements.txt

COPY serving/ /app/serving/
ENV PYTHONPATH=/app PORT=8080 TF_CPP_MIN_LOG_LEVEL=2
EXPOSE 8080
# The startup script ends in `python -m serving.model_server ...`: the command the tests and the
# local deployments run.
ENTRYPOINT ["python", "-m", "serving.startup", "--runtime", "scann"]
