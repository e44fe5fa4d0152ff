"""Hosting in public: session keys, storage, the HTTP guard, logs, memory budgets."""
