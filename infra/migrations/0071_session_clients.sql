-- Where a web session was opened from, so that a person can recognise their sessions on their
-- account page (infra/web_sessions.py): the client's address and its browser, as it said.
ALTER TABLE web_sessions ADD COLUMN client_address text NOT NULL DEFAULT '';
ALTER TABLE web_sessions ADD COLUMN user_agent text NOT NULL DEFAULT '';
