-- Orders and their lines. Amounts are integers in the currency's minor unit (cents).
CREATE TABLE orders (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  customer   TEXT    NOT NULL,
  status     TEXT    NOT NULL CHECK (status IN ('pending', 'confirmed', 'backordered', 'cancelled')),
  currency   TEXT    NOT NULL,
  subtotal   INTEGER NOT NULL CHECK (subtotal >= 0),
  discount   INTEGER NOT NULL CHECK (discount >= 0),
  tax        INTEGER NOT NULL CHECK (tax >= 0),
  total      INTEGER NOT NULL CHECK (total >= 0),
  created_at TEXT    NOT NULL,
  updated_at TEXT    NOT NULL
);
CREATE INDEX orders_status ON orders (status);

CREATE TABLE order_lines (
  order_id      INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  line_no       INTEGER NOT NULL,
  sku           TEXT    NOT NULL,
  quantity      INTEGER NOT NULL CHECK (quantity > 0),
  unit_price    INTEGER NOT NULL CHECK (unit_price >= 0),
  discount_bp   INTEGER NOT NULL CHECK (discount_bp BETWEEN 0 AND 10000),
  line_subtotal INTEGER NOT NULL,
  line_discount INTEGER NOT NULL,
  line_total    INTEGER NOT NULL,
  PRIMARY KEY (order_id, line_no)
);
