# Image for the web and worker services of docker-compose.yml: the same locked dependencies that
# CI tests (requirements/lock.txt, every package pinned with its hashes), then the project itself.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements/lock.txt requirements/lock.txt
RUN pip install --require-hashes -r requirements/lock.txt
COPY pyproject.toml README.md ./
COPY protopool protopool
COPY analysis analysis
COPY studyapp studyapp
COPY surveys surveys
COPY configs configs
COPY manage.py ./
RUN pip install --no-deps --no-build-isolation .
EXPOSE 8000
CMD ["gunicorn", "studyapp.wsgi:application", "--bind", "0.0.0.0:8000"]
