# Airbyte's Python-connector convention: a slim Python base, the package installed, and the
# connector as both ENTRYPOINT and AIRBYTE_ENTRYPOINT (the platform reads the latter).
# Pinned by digest, as Airbyte's metadata (connectorBuildOptions.baseImage) requires.
FROM docker.io/library/python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

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
