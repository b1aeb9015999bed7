# Image for every service of compose.yaml; the command picks the process.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY services ./services
COPY infra ./infra
COPY entrypoints ./entrypoints
RUN pip install --no-cache-dir .
USER nobody
CMD ["reporting", "--help"]
