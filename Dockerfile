# Airbyte's Python-connector convention: a slim Python base, the package installed, and the
# connector as both ENTRYPOINT and AIRBYTE_ENTRYPOINT (the platform reads the latter).
# Pinned by digest, as Airbyte's metadata (connectorBuildOptions.baseImage) requires; checked against
# metadata.yaml by integration_tests/test_docker_contract.py.
FROM docker.io/library/python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

LABEL io.airbyte.name=airbyte/source-conversations \
      io.airbyte.version=0.1.0 \
      org.opencontainers.image.title="Conversations (PolyAI, Vectara)" \
      org.opencontainers.image.source=https://github.com/source-conversations/source-conversations \
      org.opencontainers.image.licenses=MIT

WORKDIR /airbyte/integration_code
# The connector is source_conversations/manifest.yaml and components.py (package data of setup.py),
# with the package's console script around them.
COPY setup.py README.md main.py ./
COPY source_conversations ./source_conversations
RUN pip install --no-cache-dir . \
    && groupadd --gid 1000 airbyte \
    && useradd --create-home --uid 1000 --gid 1000 airbyte
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000

ENV AIRBYTE_ENTRYPOINT="source-conversations"
ENTRYPOINT ["source-conversations"]
