"""What the fake API serves, by stream: the ids a full read must deliver (in-progress PolyAI conversations
left out), each primary key joined with `/` as `harness.ConnectorRun.ids` joins it."""

from typing import Dict, Iterable, List, Optional

from fake_api import ALL_PROJECTS, FakeApiServer


def expected_ids(server: FakeApiServer, streams: Optional[Iterable[str]] = None) -> Dict[str, List[str]]:
    """Every record id the fake serves for each of `streams` (default: every stream)."""
    agents = server.vectara_agent_keys()
    readers = {
        "polyai_conversations": lambda: [
            f"{record['project_id']}/{record['id']}"
            for record in server.polyai_records(in_progress=False, project_id=ALL_PROJECTS)
        ],
        "vectara_conversations": server.vectara_ids,
        "vectara_turns": lambda: server.vectara_turn_ids("v1"),
        "vectara_chats": server.vectara_chat_ids,
        "vectara_chat_turns": lambda: server.vectara_turn_ids("v2"),
        "vectara_agent_sessions": lambda: [
            f"{agent}/{key}" for agent in agents for key in server.vectara_session_keys(agent)
        ],
        "vectara_agent_events": lambda: [
            event
            for agent in agents
            for key in server.vectara_session_keys(agent)
            for event in server.vectara_event_ids(agent, key)
        ],
    }
    return {name: readers[name]() for name in (readers if streams is None else streams)}
