-- E-mail notifications: a user's address (LAVA's User.email; '' for
-- none), and which notify recipients of a job were sent their e-mail
-- (LAVA's NotificationRecipient.status SENT), so each recipient gets one
-- e-mail per job however many transitions match the criteria. A row is
-- claimed before sending and removed again when the sending fails.
ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
CREATE TABLE notifications_sent (
	job       BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
	recipient TEXT NOT NULL,
	claimed   BIGINT NOT NULL,
	PRIMARY KEY (job, recipient)
);
