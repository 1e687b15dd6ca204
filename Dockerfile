# Airbyte's Python-connector convention: a slim Python base, the package installed, and the
# connector as both ENTRYPOINT and AIRBYTE_ENTRYPOINT (the platform reads the latter).
FROM python:3.11-slim

LABEL io.airbyte.name=airbyte/source-conversations
LABEL io.airbyte.version=0.1.0

WORKDIR /airbyte/integration_code
COPY setup.py README.md main.py ./
COPY source_conversations ./source_conversations
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 1000 airbyte
USER airbyte

ENV AIRBYTE_ENTRYPOINT="source-conversations"
ENTRYPOINT ["source-conversations"]
