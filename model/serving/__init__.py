"""Hosting in public: session keys, storage, the HTTP guard, logs, the janitor, memory budgets."""
