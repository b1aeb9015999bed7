"""The web front end: server-rendered pages and their static assets."""
