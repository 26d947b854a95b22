# OpsGuard image for docker-compose.yml: web, worker and beat run from it.
FROM python:3.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends openssh-client procps \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir -e . && useradd --create-home opsguard \
    && mkdir -p /data && chown opsguard /data
USER opsguard
ENV OPSGUARD_DATA_DIR=/data
EXPOSE 8000
CMD ["python", "manage.py", "runserver", "0.0.0.0:8000", "--noreload"]
