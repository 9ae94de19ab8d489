import express, { type NextFunction, type Request, type Response } from 'express';
import { ClientDisconnected, GatewayError } from '../errors';
import type { Logger } from '../logger';
import { handleChat, setRouteReasonHeaders, writeJson, type ChatDependencies } from '../pipeline/chat';
import { RequestContext, clientFromUserAgent, newRequestId, type InboundApi } from '../pipeline/context';
import { handleCountTokens } from '../pipeline/count-tokens';
import { handleEmbeddings } from '../pipeline/embeddings';
import type { ChatSurface, ErrorSurface } from '../pipeline/surface';
import { guardOutcome } from '../pipeline/guard-step';
import type { Guard } from '../guard/guard';
import type { AuditRecord, AuditStore } from '../storage/audit';
import type { GuardEventStore } from '../storage/guard-events';
import type { SqliteDatabase } from '../storage/database';
import type { KeyStore } from '../storage/keys';
import { authenticate } from './auth';
import { readJsonBody } from './body';
import { managementRouter } from './management';
import { describeModel, listModels } from './models';
import { answerPreflight, checkHost, checkOrigin, originAllowed, setCorsHeaders, type SecurityPolicy } from './security';
import { anthropicErrorSurface, anthropicMessagesSurface } from './surfaces/anthropic';
import { openAIChatSurface, openAIErrorSurface } from './surfaces/openai';

export interface AppDependencies extends ChatDependencies {
  keys: KeyStore;
  audit: AuditStore;
  guardEvents: GuardEventStore;
  db: SqliteDatabase;
  logger: Logger;
  security: SecurityPolicy;
  maxBodyBytes: number;
  /** Seconds since the epoch when the gateway started, shown as the models' `created`. */
  startedAt: number;
  /** Counts requests in flight, so that shutdown can drain them. */
  inFlight: { count: number };
}

type ApiHandler = (ctx: RequestContext, req: Request, res: Response) => Promise<void>;

/** Build the Express app: security checks, the provider-compatible API, management and health. */
export function createApp(deps: AppDependencies): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const log = deps.logger.child({ component: 'http' });

  // Every response carries a request id; audited routes use it as the audit record's id.
  // The Host check and CORS run next, before routing, for every path.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const requestId = newRequestId();
    res.locals.requestId = requestId;
    res.setHeader('x-airlock-request-id', requestId);
    try {
      checkHost(req, deps.security);
      const origin = req.headers.origin;
      if (req.method === 'OPTIONS' && origin !== undefined && req.headers['access-control-request-method'] !== undefined) {
        if (!originAllowed(origin, deps.security, req)) checkOrigin(req, deps.security);
        answerPreflight(req, res, origin);
        return;
      }
      const allowed = checkOrigin(req, deps.security);
      if (allowed !== null) setCorsHeaders(res, allowed);
      next();
    } catch (error) {
      const inboundApi = inboundApiOf(req.path);
      const ctx = new RequestContext(inboundApi, clientFromUserAgent(req.headers['user-agent']), log, requestId);
      const surface = inboundApi.startsWith('anthropic') ? anthropicErrorSurface : inboundApi === 'models' ? surfaceByVersionHeader(req) : openAIErrorSurface;
      renderFailure(ctx, surface, error, res);
      finishRequest(deps, ctx);
    }
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  const api = (inboundApi: InboundApi, errorSurface: ErrorSurface | ((req: Request) => ErrorSurface), handler: ApiHandler) => async (req: Request, res: Response) => {
    const surface = typeof errorSurface === 'function' ? errorSurface(req) : errorSurface;
    const ctx = new RequestContext(inboundApi, clientFromUserAgent(req.headers['user-agent']), log, res.locals.requestId as string);
    deps.inFlight.count += 1;
    res.on('close', () => {
      if (!res.writableFinished) ctx.clientAbort.abort();
    });
    try {
      ctx.principal = authenticate(req, deps.keys);
      await handler(ctx, req, res);
    } catch (error) {
      renderFailure(ctx, surface, error, res);
    } finally {
      deps.inFlight.count -= 1;
      finishRequest(deps, ctx);
    }
  };

  const chat = (surface: ChatSurface): ApiHandler => async (ctx, req, res) => {
    const raw = await readJsonBody(req, deps.maxBodyBytes);
    const parsed = surface.parse(raw);
    await handleChat(deps, ctx, surface, parsed, req.headers, res);
  };
  const embeddings: ApiHandler = async (ctx, req, res) => {
    await handleEmbeddings(deps, ctx, await readJsonBody(req, deps.maxBodyBytes), res);
  };
  const countTokens: ApiHandler = async (ctx, req, res) => {
    const raw = await readJsonBody(req, deps.maxBodyBytes);
    await handleCountTokens(deps, ctx, raw, anthropicMessagesSurface.forwardedHeaders(req.headers), res);
  };
  const models: ApiHandler = async (ctx, req, res) => {
    const query = req.query as Record<string, unknown>;
    writeJson(ctx, res, 200, listModels(deps.router.names(), deps.startedAt, req.headers['anthropic-version'] !== undefined, query));
  };
  const model: ApiHandler = async (ctx, req, res) => {
    const id = String(req.params.id);
    const anthropicShape = req.headers['anthropic-version'] !== undefined;
    if (!deps.router.names().includes(id)) {
      throw new GatewayError('model_not_found', `The model '${id}' does not exist on this gateway; GET /v1/models lists the models.`, { param: 'model' });
    }
    writeJson(ctx, res, 200, describeModel(id, deps.startedAt, anthropicShape));
  };

  for (const prefix of ['/v1', '']) {
    app.post(`${prefix}/chat/completions`, api('openai-chat', openAIChatSurface, chat(openAIChatSurface)));
    app.post(`${prefix}/embeddings`, api('openai-embeddings', openAIErrorSurface, embeddings));
    app.get(`${prefix}/models`, api('models', surfaceByVersionHeader, models));
    app.get(`${prefix}/models/:id`, api('models', surfaceByVersionHeader, model));
    app.post(`${prefix}/messages`, api('anthropic-messages', anthropicMessagesSurface, chat(anthropicMessagesSurface)));
    app.post(`${prefix}/messages/count_tokens`, api('anthropic-count-tokens', anthropicErrorSurface, countTokens));
  }

  // A known path with the wrong method is 405 naming the right one, not a confusing 404.
  const postOnly = ['chat/completions', 'embeddings', 'messages', 'messages/count_tokens'];
  for (const path of postOnly.flatMap((p) => [`/v1/${p}`, `/${p}`])) {
    app.all(path, (req: Request, res: Response) => {
      const rendered = surfaceByVersionHeader(req).renderError(
        new GatewayError('invalid_value', `${req.method} is not supported on ${req.path}; send a POST request with a JSON body.`, { status: 405 }),
      );
      res.status(rendered.status).set({ ...rendered.headers, allow: 'POST' }).json(rendered.body);
    });
  }

  app.use('/airlock/api', managementRouter({
      keys: deps.keys,
      audit: deps.audit,
      guardEvents: deps.guardEvents,
      guardSettings: deps.guard.settings,
      governance: deps.governance,
      cache: deps.cache,
      db: deps.db,
      router: deps.router,
      maxBodyBytes: deps.maxBodyBytes,
    }),);

  app.use((req: Request, res: Response) => {
    const surface = surfaceByVersionHeader(req);
    const rendered = surface.renderError(
      new GatewayError(
        'not_found',
        `No route for ${req.method} ${req.path}. The gateway serves /v1/chat/completions, /v1/messages, /v1/messages/count_tokens, /v1/embeddings and /v1/models.`,
      ),
    );
    res.status(rendered.status).json(rendered.body);
  });
  return app;
}

/** Pick the error shape for paths both APIs share: Anthropic's when the request carries anthropic-version. */
function surfaceByVersionHeader(req: Request): ErrorSurface {
  return req.headers['anthropic-version'] !== undefined ? anthropicErrorSurface : openAIErrorSurface;
}

function inboundApiOf(path: string): InboundApi {
  if (path.endsWith('/messages/count_tokens')) return 'anthropic-count-tokens';
  if (path.endsWith('/messages')) return 'anthropic-messages';
  if (path.endsWith('/embeddings')) return 'openai-embeddings';
  if (path.endsWith('/models')) return 'models';
  return 'openai-chat';
}

/** Render a failure in the caller's format, or end a committed stream; record it on the context. */
function renderFailure(ctx: RequestContext, surface: ErrorSurface, error: unknown, res: Response): void {
  if (error instanceof ClientDisconnected || ctx.clientAbort.signal.aborted) {
    ctx.flags.add('client_disconnected');
    ctx.errorKind = 'client_disconnected';
    if (ctx.httpStatus === 0) ctx.httpStatus = 499;
    res.destroy();
    return;
  }
  const failure = error instanceof GatewayError ? error : new GatewayError('internal', 'The gateway failed unexpectedly; see its log.');
  if (!(error instanceof GatewayError)) ctx.log.error({ err: error }, 'request failed with an unexpected error');
  ctx.errorKind = failure.kind;
  ctx.errorMessage = failure.message;
  if (res.headersSent) {
    res.end(surface.streamErrorFrame(failure));
    return;
  }
  const rendered = surface.renderError(failure);
  ctx.httpStatus = rendered.status;
  const text = JSON.stringify(rendered.body);
  // An error response still names what the router tried.
  setRouteReasonHeaders(res, ctx);
  // Node has no reason phrase for 529 and would send "unknown".
  const statusMessage = rendered.status === 529 ? 'Overloaded' : undefined;
  const headers = { ...rendered.headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) };
  if (statusMessage) res.writeHead(rendered.status, statusMessage, headers);
  else res.writeHead(rendered.status, headers);
  res.end(text);
}

/**
 * Returns the record with secrets and personal data in its error messages replaced by their
 * types, since an upstream error may quote the prompt, which the audit log must not store.
 */
function scrubbedRecord(guard: Guard, record: AuditRecord): AuditRecord {
  const scrub = (text: string | null): string | null => (text === null ? null : guard.scrub(text));
  return {
    ...record,
    errorMessage: scrub(record.errorMessage),
    attempts: record.attempts.map((attempt) => ({ ...attempt, errorMessage: scrub(attempt.errorMessage) })),
  };
}

/** Step 8: one audit record, its guard events and one log line per request. */
function finishRequest(deps: AppDependencies, ctx: RequestContext): void {
  const outcome = guardOutcome(ctx);
  try {
    if (outcome !== null) ctx.guardAction = ctx.guardScan!.strongestAction(outcome);
    deps.audit.write(scrubbedRecord(deps.guard, ctx.toAuditRecord()));
    if (outcome !== null) deps.guardEvents.write(ctx.id, ctx.createdAt, ctx.guardScan!.events(outcome));
  } catch (error) {
    ctx.log.error({ err: error }, 'failed to write the audit record or its guard events');
  }
  ctx.log.info(
    {
      api: ctx.inboundApi,
      model: ctx.alias,
      deployment: ctx.deployment?.id ?? null,
      status: ctx.httpStatus,
      errorKind: ctx.errorKind,
      costUsd: ctx.costUsd,
      guard: ctx.guardAction,
      latencyMs: Math.round(ctx.elapsedMs() * 10) / 10,
    },
    'request finished',
  );
}
