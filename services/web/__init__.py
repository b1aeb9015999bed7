"""The people's web app: server-rendered pages for every role, and their static assets."""
