-- Stock per article. `reserved` is the part of `stock` promised to open orders.
CREATE TABLE items (
  sku        TEXT    PRIMARY KEY,
  name       TEXT    NOT NULL,
  stock      INTEGER NOT NULL CHECK (stock >= 0),
  reserved   INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= stock),
  created_at TEXT    NOT NULL,
  updated_at TEXT    NOT NULL
);
