-- Events the mailer has delivered, by event id: delivery is at least once,
-- so a republished or redelivered event is recognised and not mailed twice.
CREATE TABLE IF NOT EXISTS mail_sent (
  event_id CHAR(36) NOT NULL,
  sent_at DATETIME(3) NOT NULL,
  PRIMARY KEY (event_id),
  KEY ix_mail_sent_at (sent_at)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;
