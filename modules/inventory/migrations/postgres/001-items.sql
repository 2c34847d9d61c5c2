-- PostgreSQL's form of ../001-items.sql: BIGINT where SQLite's INTEGER is 64 bits.
CREATE TABLE items (
  sku        TEXT    PRIMARY KEY,
  name       TEXT    NOT NULL,
  stock      BIGINT  NOT NULL CHECK (stock >= 0),
  reserved   BIGINT  NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= stock),
  created_at TEXT    NOT NULL,
  updated_at TEXT    NOT NULL
);
