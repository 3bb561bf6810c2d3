"""Pure logic: jobs, stories, prompts and the use cases. Ports are passed in, never imported."""
