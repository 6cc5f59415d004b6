-- Rate-limit counters (fixed windows), in the database so that limits hold
-- across workers and hosts.  bucket is e.g. 'forgot:addr:<sha256>'.
CREATE TABLE IF NOT EXISTS throttles (
  bucket VARCHAR(191) NOT NULL,
  window_start DATETIME NOT NULL,
  hits INT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (bucket, window_start),
  KEY ix_throttles_window (window_start)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;
