-- Beside the seed's columns: a password version that every JWT carries (a
-- password change invalidates older tokens) and a role for authorization.
ALTER TABLE users
  ADD COLUMN IF NOT EXISTS password_version INT UNSIGNED NOT NULL DEFAULT 1,
  ADD COLUMN IF NOT EXISTS role VARCHAR(16) NOT NULL DEFAULT 'user';
CREATE INDEX IF NOT EXISTS ix_users_created_at ON users (created_at);
