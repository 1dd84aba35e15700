# Image for the web and worker services of docker-compose.yml (CPU build of torch by default).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY protopool protopool
COPY analysis analysis
COPY studyapp studyapp
COPY surveys surveys
COPY manage.py ./
# Pass --build-arg PIP_EXTRA_INDEX_URL=<a CPU-only torch wheel index> for a smaller image.
ARG PIP_EXTRA_INDEX_URL=
RUN pip install "torch==2.14.1" "torchvision==0.29.1" && pip install .
EXPOSE 8000
CMD ["gunicorn", "studyapp.wsgi:application", "--bind", "0.0.0.0:8000"]
