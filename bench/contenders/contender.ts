import type { ServerProcess } from '../lib/server-process';

/** The two routes every contender serves, with the same native functions behind them. */
export const SUMMARY_PATH = '/api/v1/sales/summary';
export const CREATE_ITEM_PATH = '/api/v1/inventory/items';
/** A light route: the plain-C fixture copy b0001 answering GET /ping without touching SQLite. */
export const PING_PATH = '/api/v1/b0001/ping';

export interface ContenderContext {
  /** A fresh directory for this contender's databases. */
  readonly dataDir: string;
  readonly port: number;
  /** The generated b0001 module directory (fixture copy) serving the light route. */
  readonly pingModuleDir: string;
  readonly nodeFlags?: readonly string[];
}

export interface Contender {
  readonly id: string;
  readonly label: string;
  start(context: ContenderContext): Promise<ServerProcess>;
}
