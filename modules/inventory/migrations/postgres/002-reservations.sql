-- PostgreSQL's form of ../002-reservations.sql: BIGINT where SQLite's INTEGER is 64 bits.
CREATE TABLE reservations (
  order_id   BIGINT  NOT NULL,
  sku        TEXT    NOT NULL REFERENCES items (sku),
  quantity   BIGINT  NOT NULL CHECK (quantity > 0),
  created_at TEXT    NOT NULL,
  PRIMARY KEY (order_id, sku)
);
CREATE INDEX reservations_sku ON reservations (sku);
