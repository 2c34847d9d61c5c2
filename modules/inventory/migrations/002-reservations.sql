-- What each order holds, so that cancelling an order releases exactly what it reserved.
CREATE TABLE reservations (
  order_id   INTEGER NOT NULL,
  sku        TEXT    NOT NULL REFERENCES items (sku),
  quantity   INTEGER NOT NULL CHECK (quantity > 0),
  created_at TEXT    NOT NULL,
  PRIMARY KEY (order_id, sku)
);
CREATE INDEX reservations_sku ON reservations (sku);
