"""Airbyte source connector for PolyAI and Vectara conversation logs."""

from source_conversations.source import SourceConversations

__all__ = ["SourceConversations"]
