-- Events written in the same transaction as the change they announce and
-- deleted once RabbitMQ confirmed them; rows left behind are republished by
-- the relay in reset-mailer.
CREATE TABLE IF NOT EXISTS outbox (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  event_id CHAR(36) NOT NULL,
  routing_key VARCHAR(255) NOT NULL,
  event_type VARCHAR(255) NOT NULL,
  email VARCHAR(255) NOT NULL DEFAULT '',
  payload MEDIUMTEXT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  last_attempt_at DATETIME(3) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uk_outbox_event (event_id),
  KEY ix_outbox_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
