"""Pictures for people and agents: bird's-eye views of logs and tracks."""
