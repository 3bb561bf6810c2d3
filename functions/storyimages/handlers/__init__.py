"""Lambda entry points. Each is a few lines: settings and event in, one domain call, response out."""
