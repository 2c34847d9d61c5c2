import fs from 'node:fs';
import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { ErpmodError } from '../errors';

/** Where `npm run build:console` puts the console's files (dist/console-web, beside dist/host). */
export const CONSOLE_ASSETS_DIR = path.resolve(__dirname, '..', '..', 'console-web');

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/**
 * Headers on every /console response. The page runs only its own script files (no inline script, no
 * eval), talks only to this listener, and cannot be framed; nothing is guessed from content.
 */
export function setConsoleHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('content-security-policy',
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('cross-origin-opener-policy', 'same-origin');
  res.setHeader('cross-origin-resource-policy', 'same-origin');
  next();
}

/** GET /console: the page (never cached: it names the current asset files). */
export function sendConsolePage(_req: Request, res: Response, next: NextFunction): void {
  sendFile(res, 'index.html', 'no-store', next);
}

/** GET /console/assets/<file>: file names carry a content hash, so they may be cached for good. */
export function sendConsoleAsset(req: Request, res: Response, next: NextFunction): void {
  const name = String(req.params.file);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) return next(new ErpmodError('ERPMOD_NOT_FOUND', `no console asset ${JSON.stringify(name)}`));
  sendFile(res, path.join('assets', name), 'public, max-age=31536000, immutable', next);
}

function sendFile(res: Response, relative: string, cacheControl: string, next: NextFunction): void {
  const type = CONTENT_TYPES[path.extname(relative)];
  const file = path.join(CONSOLE_ASSETS_DIR, relative);
  if (type === undefined) return next(new ErpmodError('ERPMOD_NOT_FOUND', `no console asset ${relative}`));
  fs.readFile(file, (error, bytes) => {
    if (error !== null) {
      const missing = !fs.existsSync(path.join(CONSOLE_ASSETS_DIR, 'index.html'));
      return next(new ErpmodError('ERPMOD_NOT_FOUND', missing
        ? `the console is not built: expected ${path.join(CONSOLE_ASSETS_DIR, 'index.html')}; run npm run build`
        : `no console asset ${relative}`));
    }
    res.status(200).setHeader('content-type', type);
    res.setHeader('cache-control', cacheControl);
    res.end(bytes);
  });
}
