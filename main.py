"""Runs the connector from a source checkout: `python main.py spec`."""

from source_conversations.run import run

if __name__ == "__main__":
    run()
