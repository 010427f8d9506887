-- Remote artifact tokens (LAVA's RemoteArtifactsAuth): a user's named
-- secrets, kept in clear because the lab must send them (a notify
-- callback's token header, a download's headers, a job's secrets).
-- Only that user's jobs use them; they go with the user.
CREATE TABLE remote_tokens (
	username TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
	name     TEXT NOT NULL,
	token    TEXT NOT NULL,
	created  BIGINT NOT NULL,
	PRIMARY KEY (username, name)
);
