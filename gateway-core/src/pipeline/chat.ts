import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { ClientDisconnected, GatewayError, UpstreamError } from '../errors';
import { eventCarriesContent, type CanonicalStreamEvent } from '../formats/canonical';
import type { Governance } from '../governance/governance';
import type { Guard } from '../guard/guard';
import { restoreResponseBody, restoringStream } from '../guard/restore';
import type { DestinationClass } from '../models/table';
import type { ProviderRegistry } from '../providers/registry';
import type { CallOptions, ChatProvider, Deployment, NativeStreamEvent, StreamHandle } from '../providers/types';
import { runAttempts, type AttemptCall } from './attempts';
import type { RequestContext } from './context';
import { assembleStream } from '../cache/assemble';
import { takeBodyCacheControls, type BodyCacheControls } from '../cache/body-controls';
import { answerFromCache, decideCache, storedModelOf, type ResponseCache, type SemanticState } from './cache-step';
import { planStore, setMissHeader, storeAnswer } from './cache-write';
import { BudgetGate, detectPromptCaching, requestedChoices, requestedOutputLimit } from './budget-step';
import { attemptRequestFor, guardFirst, routeLocalPlan, setGuardHeaders, type AttemptRequest } from './guard-step';
import type { Router } from './router';
import { estimateUsage, settleUsage } from './settle';
import { totalInputTokens } from '../usage/record';
import type { RoutingInput } from '../routing/types';
import type { ChatSurface, ParsedChatRequest, StreamEncoder } from './surface';

export interface ChatDependencies {
  router: Router;
  providers: ProviderRegistry;
  guard: Guard;
  governance: Governance;
  cache: ResponseCache;
}

/** The request as each destination class receives it; redacted copies are made once per class. */
type AttemptRequests = (destination: DestinationClass) => AttemptRequest;

/** The text a stream wrote to the client, kept for the cache up to `limit` characters. */
interface StreamTap {
  chunks: string[];
  length: number;
  limit: number;
}

/** A provider stream opened and read up to its first content event, which is held for the client. */
interface OpenedStream<E> {
  handle: StreamHandle<E>;
  iterator: AsyncIterator<E>;
  buffered: E[];
  native: boolean;
}

/**
 * Steps 3, 4, 6 and 7 of the request path for a chat request: resolve the alias, scan with the
 * guard, run the attempt loop, write the response (streamed or not) and settle usage on the
 * context.
 */
export async function handleChat(
  deps: ChatDependencies,
  ctx: RequestContext,
  surface: ChatSurface,
  request: ParsedChatRequest,
  requestHeaders: Record<string, string | string[] | undefined>,
  res: ServerResponse,
): Promise<void> {
  ctx.alias = request.alias;
  ctx.stream = request.stream;
  // Removed before anything reads the body, because no provider accepts the field.
  const bodyControls = takeBodyCacheControls(request.body);
  const forwarded = surface.forwardedHeaders(requestHeaders);
  const routeRequest = { mode: 'chat' as const, stream: request.stream, estimatedTokens: Math.ceil(request.promptText().length / 4) };
  const gate = new BudgetGate(deps.governance, deps.router, ctx, {
    requestedModel: request.alias,
    promptText: () => request.promptText(),
    maxOutputTokens: requestedOutputLimit(request.body),
    choices: requestedChoices(request.body),
    promptCaching: detectPromptCaching(surface.format, request.body),
  });
  gate.acquireRateLimit(routeRequest.estimatedTokens);
  try {
    await runChat(deps, ctx, surface, request, res, { forwarded, requestHeaders, bodyControls }, routeRequest, gate);
  } finally {
    // Settles what a finished attempt used, or releases the reservation of a failed one.
    gate.settle(ctx.usage === null ? null : ctx.deployment);
  }
}

async function runChat(
  deps: ChatDependencies,
  ctx: RequestContext,
  surface: ChatSurface,
  request: ParsedChatRequest,
  res: ServerResponse,
  controls: {
    forwarded: Record<string, string>;
    requestHeaders: Record<string, string | string[] | undefined>;
    bodyControls: BodyCacheControls | null;
  },
  routeRequest: { mode: 'chat'; stream: boolean; estimatedTokens: number },
  gate: BudgetGate,
): Promise<void> {
  const { forwarded, requestHeaders, bodyControls } = controls;
  const containsFinding = (text: string): boolean => deps.guard.findsAny(text);
  let plan = deps.router.plan({ ...routeRequest, requested: request.alias, routingInput: () => routingInput(ctx, request) });

  const scan = deps.guard.scanRequest(surface.format, request.body);
  ctx.guardScan = scan;
  if (scan !== null) {
    const narrowed = routeLocalPlan(plan, scan, deps.router, deps.guard.settings.localModel, routeRequest);
    plan = narrowed.plan;
    ctx.guardRoutedLocal = narrowed.changed;
  }
  const admit = guardFirst(ctx, scan, gate.admit);
  const variants = new Map<DestinationClass, AttemptRequest>();
  const requestFor: AttemptRequests = (destination) => attemptRequestFor(surface, request, scan, variants, destination);

  // Step 5: the response cache, when it is on.
  const cached = deps.cache.settings.enabled ? decideCache(deps.cache, ctx, surface, request, plan, scan, requestHeaders, bodyControls) : null;
  let semanticState: SemanticState | null = null;
  if (cached !== null) {
    const answer = await answerFromCache(deps.cache, ctx, surface, request, cached, res, (entry) => gate.recordCacheHit(plan.alias, entry.costUsd, storedModelOf(entry)));
    if (answer.served) return;
    semanticState = answer.semantic;
  }

  if (!request.stream) {
    const { value, deployment, call } = await runAttempts(
      ctx,
      deps.router,
      plan,
      routeRequest,
      (d, c) => completeOnce(deps, ctx, surface, requestFor(d.destination), d, c, forwarded),
      admit,
    );
    call.finish();
    settleUsage(ctx, deployment, value.usage ?? estimateUsage(request.promptText(), ''), value.rawUsage);
    recordDeploymentTokens(deps, deployment, ctx, routeRequest.estimatedTokens);
    // The spend is written before the client gets the response, so a crash cannot lose it.
    gate.settle(deployment);
    setRouteHeaders(res, ctx, deployment);
    const store = planStore(deps.cache, ctx, surface, cached, value.body, semanticState, containsFinding, res);
    setEmulatedHeader(res, value.emulated);
    ctx.markFirstToken();
    writeJson(ctx, res, 200, value.body);
    store();
    return;
  }

  // A streamed response is stored whole, assembled from what the client received, and only when
  // the stream completed.
  const tap: StreamTap | null = cached?.kind === 'use' ? { chunks: [], length: 0, limit: deps.cache.settings.maxBytes } : null;

  const { value: opened, deployment, call } = await runAttempts(
    ctx,
    deps.router,
    plan,
    routeRequest,
    (d, c) => openStream(deps, ctx, surface, requestFor(d.destination), d, c, forwarded),
    admit,
  );
  setRouteHeaders(res, ctx, deployment);
  setMissHeader(res, ctx, cached);
  let completed = false;
  try {
    completed = await pumpStream(ctx, surface, request, opened, res, call.signal, tap);
  } finally {
    call.finish();
    settleStreamUsage(ctx, deployment, request, opened.handle, completed);
    recordDeploymentTokens(deps, deployment, ctx, routeRequest.estimatedTokens);
  }
  if (completed && tap !== null && tap.length <= tap.limit && cached?.kind === 'use') {
    const whole = assembleStream(surface.format, tap.chunks.join(''));
    if (whole !== null) storeAnswer(deps.cache, ctx, surface, cached, whole, semanticState, containsFinding);
  }
}

/** Count the settled usage toward the deployment's tpm; the prompt estimate was counted when the call began. */
function recordDeploymentTokens(deps: ChatDependencies, deployment: Deployment, ctx: RequestContext, estimated: number): void {
  if (!ctx.usage) return;
  const total = totalInputTokens(ctx.usage) + ctx.usage.outputTokens;
  deps.router.health.recordTokens(deployment.id, Math.max(0, total - estimated));
}

/**
 * Settle a stream's usage. A completed stream has the provider's final counts. A stream that
 * ended early (client gone, upstream cut) may have only its start event's input counts, because
 * Anthropic's message_start carries a placeholder output count. Its output is therefore the larger
 * of that count and the tokens of the text received, and the record is marked estimated.
 */
function settleStreamUsage(
  ctx: RequestContext,
  deployment: Deployment,
  request: ParsedChatRequest,
  handle: StreamHandle<unknown>,
  completed: boolean,
): void {
  const reported = handle.usage();
  if (reported && completed) {
    settleUsage(ctx, deployment, reported.usage, reported.raw);
    return;
  }
  const estimate = estimateUsage(request.promptText(), handle.outputText());
  if (!reported) {
    settleUsage(ctx, deployment, estimate, null);
    return;
  }
  const usage = { ...reported.usage, outputTokens: Math.max(reported.usage.outputTokens, estimate.outputTokens), source: 'estimated' as const };
  settleUsage(ctx, deployment, usage, reported.raw);
}

/** One non-streaming call; `sent.request` is what this deployment receives, and its response is restored. */
async function completeOnce(
  deps: ChatDependencies,
  ctx: RequestContext,
  surface: ChatSurface,
  sent: AttemptRequest,
  deployment: Deployment,
  call: AttemptCall,
  forwarded: Record<string, string>,
): Promise<{ body: Record<string, unknown>; usage: import('../usage/record').UsageRecord | null; rawUsage: unknown; emulated: string[] }> {
  const { request, mapping } = sent;
  const provider = deps.providers.get(deployment.kind);
  const options = callOptions(call, headersFor(provider, surface, forwarded));
  if (provider.nativeFormat === surface.format && provider.completeNative) {
    const result = await provider.completeNative(deployment, request.body, options);
    return { body: restoreResponseBody(result.body, mapping), usage: result.usage, rawUsage: result.rawUsage, emulated: [] };
  }
  const canonical = { ...request.canonical(), model: deployment.model, stream: false };
  const result = await provider.complete(deployment, canonical, options);
  noteIgnoredParams(ctx, canonical.ignoredParams);
  const usage = result.response.usage ? { ...result.response.usage, source: 'reported' as const } : null;
  const body = restoreResponseBody(surface.renderCanonical(result.response, request), mapping);
  return { body, usage, rawUsage: result.rawUsage, emulated: result.emulated };
}

/** Opens one stream; its events are restored before anything reads them, the prefetch included. */
async function openStream(
  deps: ChatDependencies,
  ctx: RequestContext,
  surface: ChatSurface,
  sent: AttemptRequest,
  deployment: Deployment,
  call: AttemptCall,
  forwarded: Record<string, string>,
): Promise<OpenedStream<NativeStreamEvent> | OpenedStream<CanonicalStreamEvent>> {
  const { request, mapping } = sent;
  const provider = deps.providers.get(deployment.kind);
  const options = callOptions(call, headersFor(provider, surface, forwarded));
  if (provider.nativeFormat === surface.format && provider.streamNative) {
    const handle = restoringStream(await provider.streamNative(deployment, request.body, options), mapping, surface.format);
    return prefetch(handle, (event) => event.content, true, call);
  }
  const canonical = { ...request.canonical(), model: deployment.model, stream: true };
  const handle = restoringStream(await provider.stream(deployment, canonical, options), mapping, null);
  noteIgnoredParams(ctx, canonical.ignoredParams);
  return prefetch(handle, eventCarriesContent, false, call);
}

/**
 * Read events until the first one that carries content. A failure before it throws, so the
 * attempt loop can still try another candidate while the client has received nothing.
 */
async function prefetch<E>(
  handle: StreamHandle<E>,
  carriesContent: (event: E) => boolean,
  native: boolean,
  call: AttemptCall,
): Promise<OpenedStream<E>> {
  const iterator = handle.events[Symbol.asyncIterator]();
  const buffered: E[] = [];
  for (;;) {
    const next = await iterator.next();
    call.firstByte();
    if (next.done) break;
    buffered.push(next.value);
    if (carriesContent(next.value)) break;
  }
  return { handle, iterator, buffered, native };
}

/**
 * Commit the stream to the client, then forward every event; a later failure becomes an in-band
 * error event. Returns whether the stream completed.
 */
async function pumpStream(
  ctx: RequestContext,
  surface: ChatSurface,
  request: ParsedChatRequest,
  opened: OpenedStream<NativeStreamEvent> | OpenedStream<CanonicalStreamEvent>,
  res: ServerResponse,
  signal: AbortSignal,
  tap: StreamTap | null = null,
): Promise<boolean> {
  const write = (text: string): Promise<void> => {
    if (tap !== null && tap.length <= tap.limit) {
      tap.chunks.push(text);
      tap.length += text.length;
    }
    return writeText(res, text, signal);
  };
  const encoder = (opened.native ? surface.nativeStreamEncoder(request) : surface.canonicalStreamEncoder(request)) as StreamEncoder<unknown>;
  const iterator = opened.iterator as AsyncIterator<unknown>;
  setEmulatedHeader(res, opened.handle.emulated);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  ctx.httpStatus = 200;
  ctx.markFirstToken();
  try {
    for (const event of opened.buffered) await write(encoder.encode(event));
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      await write(encoder.encode(next.value));
    }
    await write(encoder.end());
    res.end();
    return true;
  } catch (error) {
    const reason = signal.aborted ? signal.reason : error;
    if (reason instanceof ClientDisconnected || res.destroyed) {
      ctx.flags.add('client_disconnected');
      ctx.errorKind = 'client_disconnected';
      await iterator.return?.().catch(() => undefined);
      res.destroy();
      return false;
    }
    const failure = reason instanceof GatewayError ? reason : new GatewayError('internal', 'the stream failed unexpectedly', { cause: reason });
    if (!(reason instanceof GatewayError)) ctx.log.error({ err: reason }, 'stream failed with an unexpected error');
    ctx.errorKind = failure.kind;
    ctx.errorMessage = failure.message;
    if (failure instanceof UpstreamError) ctx.flags.add('stream_failed_after_commit');
    res.end(surface.streamErrorFrame(failure));
    return false;
  }
}

async function writeText(res: ServerResponse, text: string, signal: AbortSignal): Promise<void> {
  if (text === '') return;
  if (res.destroyed) throw new ClientDisconnected();
  if (!res.write(text)) await once(res, 'drain', { signal });
}

/** Surface headers such as anthropic-version reach only a provider of the surface's own format. */
function headersFor(provider: ChatProvider, surface: ChatSurface, forwarded: Record<string, string>): Record<string, string> {
  return provider.nativeFormat === surface.format ? forwarded : {};
}

function callOptions(call: AttemptCall, headers: Record<string, string>): CallOptions {
  return { signal: call.signal, timeoutMs: call.timeoutMs, headers };
}

/** Record parameters a translation left out; the route headers name them to the client. */
function noteIgnoredParams(ctx: RequestContext, ignored: string[] | undefined): void {
  for (const name of ignored ?? []) {
    ctx.ignoredParams.add(name);
    ctx.flags.add(`ignored_param:${name}`);
  }
}

/** Build the normalized view the routing policy reads, only when the auto model is requested. */
function routingInput(ctx: RequestContext, request: ParsedChatRequest): RoutingInput {
  return {
    ...request.routingView(),
    // Characters / 4, not the tokenizer: the tokenizer costs about 60 µs per KB at p99, which alone
    // would exceed the routing decision's 50 µs budget, and rules compare against coarse limits.
    promptTokens: Math.ceil(request.promptText().length / 4),
    principal: { keyId: ctx.principal?.keyId ?? null, userId: ctx.principal?.userId ?? null, teamId: ctx.principal?.teamId ?? null },
    client: ctx.client,
    now: new Date(),
  };
}

/** x-airlock-model, x-airlock-route-reason and x-airlock-fallback-from, kept ASCII for HTTP. */
export function setRouteHeaders(res: ServerResponse, ctx: RequestContext, deployment: Deployment): void {
  res.setHeader('x-airlock-model', asciiHeader(deployment.model));
  setRouteReasonHeaders(res, ctx);
  if (ctx.ignoredParams.size > 0) res.setHeader('x-airlock-ignored-params', [...ctx.ignoredParams].join(', '));
}

/** Set x-airlock-route-reason, x-airlock-fallback-from and the guard headers; error responses carry them too. */
export function setRouteReasonHeaders(res: ServerResponse, ctx: RequestContext): void {
  setGuardHeaders(res, ctx);
  if (ctx.routeReasons.length > 0) res.setHeader('x-airlock-route-reason', asciiHeader(ctx.routeReasons.join('; ')));
  if (ctx.fallbackFrom !== null) res.setHeader('x-airlock-fallback-from', asciiHeader(ctx.fallbackFrom));
  if (ctx.budgetDowngradedFrom !== null) res.setHeader('x-airlock-budget-downgraded-from', asciiHeader(ctx.budgetDowngradedFrom));
}

/**
 * Percent-encode everything outside printable ASCII, since header values must be Latin-1. The
 * percent sign itself is encoded too ("50%" becomes "50%25"), so decodeURIComponent returns the
 * original text.
 */
export function asciiHeader(value: string): string {
  return value.replace(/[^\x20-\x24\x26-\x7e]/gu, (character) => encodeURIComponent(character));
}

function setEmulatedHeader(res: ServerResponse, emulated: string[]): void {
  if (emulated.length > 0) res.setHeader('x-airlock-emulated', emulated.join(', '));
}

export function writeJson(ctx: RequestContext, res: ServerResponse, status: number, body: unknown): void {
  ctx.httpStatus = status;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
