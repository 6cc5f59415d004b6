-- Reset tokens.  The seed's columns (token, email, verify) are kept; token
-- now holds the hex SHA-256 of the random token, never the token itself,
-- and verify = 1 marks a used or revoked row.
CREATE TABLE IF NOT EXISTS password_resets (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  created_at DATETIME(3) NULL,
  updated_at DATETIME(3) NULL,
  token VARCHAR(255) NOT NULL,
  email VARCHAR(255) NOT NULL,
  verify TINYINT(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  KEY ix_password_resets_token (token),
  KEY ix_password_resets_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE password_resets
  ADD COLUMN IF NOT EXISTS user_id BIGINT UNSIGNED NULL,
  ADD COLUMN IF NOT EXISTS expires_at DATETIME(3) NULL,
  ADD COLUMN IF NOT EXISTS used_at DATETIME(3) NULL,
  ADD COLUMN IF NOT EXISTS requested_ip VARCHAR(45) NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS ix_password_resets_user ON password_resets (user_id, verify);
