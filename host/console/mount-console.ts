import crypto from 'node:crypto';
import path from 'node:path';
import express, { type Request, type Response } from 'express';
import type { OperatorActions } from '../cluster/fan-out-operator';
import { formatText } from '../compliance/report/format-text';
import { runCheck } from '../compliance/run-check';
import { ErpmodError } from '../errors';
import { createAdminGuard, digest } from '../http/admin-guard';
import { refuseNonJson } from '../http/content-type-guard';
import { refuseForeignOrigin } from '../http/origin-guard';
import type { PluginRepository } from '../registry/plugin-repository';
import type { ModuleTable } from '../runtime/module-slot';
import type { TrustPolicy } from '../packaging/trust-policy';
import { createSessionAcceptor, type SessionAcceptor } from './accept-session';
import { ConsoleSessions, cookieValue, SESSION_COOKIE, SESSION_TTL_MS } from './console-session';
import { describeModule, listModuleViews, type ModuleSources } from './describe-modules';
import { LiveStream } from './live-stream';
import { LoginLimiter } from './login-limiter';
import { MAX_UPLOAD_BYTES, PackUploads } from './pack-upload';
import { sendConsoleAsset, sendConsolePage, setConsoleHeaders } from './serve-console-assets';

export interface ConsoleOptions {
  readonly adminToken: string;
  readonly registry: PluginRepository;
  readonly table: ModuleTable;
  readonly operator: OperatorActions;
  readonly modulesDir: string;
  readonly dataDir: string;
  readonly trustPolicy: () => TrustPolicy;
  /** False once the host begins shutting down: live streams end then. */
  readonly isReady: () => boolean;
}

/**
 * The operator console under /console on the admin listener: the page and its assets and the login
 * are open (they reveal nothing); everything under /console/api needs the admin token or a console
 * session, like every operator route. Returns how the admin guard recognises a console session, so
 * the console's page can call the operator routes (/plugins/...) with its cookie.
 */
export function mountConsole(app: express.Express, options: ConsoleOptions): SessionAcceptor {
  const sessions = new ConsoleSessions(options.adminToken);
  const acceptSession = createSessionAcceptor(sessions);
  const limiter = new LoginLimiter();
  const expectedToken = digest(options.adminToken);
  const sources: ModuleSources = options;
  const live = new LiveStream(options.registry, options.table, options.isReady);
  const uploads = new PackUploads(options);

  app.use('/console', setConsoleHeaders);
  app.get(['/console', '/console/'], sendConsolePage);
  app.get('/console/assets/:file', sendConsoleAsset);

  app.post('/console/login', refuseForeignOrigin, refuseNonJson, express.json({ limit: '4kb' }), (req, res) => {
    const address = req.socket.remoteAddress ?? 'unknown';
    limiter.assertAllowed(address);
    const token = (req.body as { token?: unknown } | undefined)?.token;
    if (typeof token !== 'string') throw new ErpmodError('ERPMOD_BAD_JSON', 'expected a JSON body {"token": "<admin token>"}');
    if (!crypto.timingSafeEqual(digest(token), expectedToken)) {
      limiter.recordFailure(address);
      throw new ErpmodError('ERPMOD_UNAUTHORIZED', 'expected the admin token, got another token; it is admin_token (ERPMOD_ADMIN_TOKEN) or the admin-token file in the data directory');
    }
    limiter.recordSuccess(address);
    const issued = sessions.issue();
    setSessionCookie(req, res, issued.value, SESSION_TTL_MS / 1000);
    res.json({ csrf: issued.session.csrf, expiresAt: new Date(issued.session.expiresAt).toISOString() });
  });
  // Open: it tells the page whether its cookie is still good (and hands back the CSRF token after a
  // reload), and shows nothing to anyone without the cookie.
  app.get('/console/session', (req, res) => {
    const session = sessions.verify(cookieValue(req.headers.cookie, SESSION_COOKIE));
    res.setHeader('cache-control', 'no-store');
    res.json(session === undefined
      ? { authenticated: false, csrf: null, expiresAt: null }
      : { authenticated: true, csrf: session.csrf, expiresAt: new Date(session.expiresAt).toISOString() });
  });
  app.post('/console/logout', refuseForeignOrigin, refuseNonJson, (req, res) => {
    setSessionCookie(req, res, '', 0);
    res.json({ loggedOut: true });
  });

  const api = express.Router();
  api.use(createAdminGuard(options.adminToken, acceptSession), refuseForeignOrigin, refuseNonJson);
  api.get('/modules', (_req, res) => {
    res.json({ modules: listModuleViews(sources) });
  });
  api.get('/modules/:code', (req, res) => {
    res.json(describeModule(sources, knownCode(options.registry, req)));
  });
  api.get('/modules/:code/compliance', async (req, res) => {
    const code = knownCode(options.registry, req);
    const moduleDir = options.registry.find(code)!.moduleDir;
    const report = await runCheck([moduleDir], { staticOnly: true });
    res.json({ text: formatText(report, { cwd: path.dirname(moduleDir) }), report });
  });
  api.get('/live', (req, res) => live.open(req, res));
  const upload = express.json({ limit: Math.ceil((MAX_UPLOAD_BYTES * 4) / 3) + 1024 });
  api.post('/packs/preview', upload, async (req, res) => {
    const data = (req.body as { data?: unknown } | undefined)?.data;
    if (typeof data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) {
      throw new ErpmodError('ERPMOD_BAD_JSON', 'expected a JSON body {"data": "<the .tgz pack, base64>"}');
    }
    res.json(await uploads.preview(Buffer.from(data, 'base64')));
  });
  api.post('/packs/apply', express.json({ limit: '4kb' }), async (req, res) => {
    const uploadId = (req.body as { uploadId?: unknown } | undefined)?.uploadId;
    if (typeof uploadId !== 'string') throw new ErpmodError('ERPMOD_BAD_JSON', 'expected a JSON body {"uploadId": "<from the preview>"}');
    res.json(await uploads.apply(uploadId));
  });
  app.use('/console/api', api);
  return acceptSession;
}

function knownCode(registry: PluginRepository, req: Request): string {
  const code = String(req.params.code);
  if (registry.find(code) === undefined) throw new ErpmodError('ERPMOD_NOT_FOUND', `no module with code "${code}"; GET /console/api/modules lists the known ones`);
  return code;
}

/** HttpOnly (no script reads it), SameSite=Strict (no other site's request carries it), Secure over https. */
function setSessionCookie(req: Request, res: Response, value: string, maxAgeS: number): void {
  const secure = req.secure || req.headers['x-forwarded-proto'] === 'https';
  res.setHeader('set-cookie', `${SESSION_COOKIE}=${value}; Max-Age=${maxAgeS}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`);
}
