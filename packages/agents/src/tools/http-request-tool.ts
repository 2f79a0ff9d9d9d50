import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { z } from 'zod';
import { AgentsError } from '../errors/agents-error.js';
import { blockedAddressKind, isMetadataHostname, isNonPublicAddress } from './address-policy.js';
import { type AgentTool, defineTool } from './define-tool.js';

export interface HttpRequestToolOptions {
  /**
   * Hosts that may be reached even though they are loopback/private/link-local:
   * exact hostnames or IP addresses (`"127.0.0.1"`, `"intranet.local"`). Default: none.
   */
  allowHosts?: string[];
  /** Response bodies are cut at this many bytes (the result says so). Default 512 KiB. */
  maxResponseBytes?: number;
  /** Whole request time limit, redirects included. Default 10 s. */
  timeoutMs?: number;
  /** Redirects followed, each one re-checked. Default 5. */
  maxRedirects?: number;
  /** DNS resolution used for connections (default: the system resolver, `dns.lookup`). Every answer is checked. */
  resolveHost?: (hostname: string) => Promise<Array<{ address: string; family: number }>>;
}

export interface HttpRequestResult {
  status: number;
  url: string;
  contentType: string | null;
  body: string;
  truncated: boolean;
}

const input = z.object({
  url: z.string().describe('Absolute http(s) URL'),
  method: z.enum(['GET', 'POST']).optional().describe('Default GET'),
  headers: z.record(z.string(), z.string()).optional(),
  body: z.string().optional().describe('Request body for POST'),
});

function refused(url: string, why: string): AgentsError {
  return new AgentsError('TOOL_ERROR', `http_request refused ${url}: ${why}`, {
    details: { toolName: 'http_request' },
  });
}

/**
 * The built-in `http_request` tool: GET/POST with size and time limits. Refuses loopback, private,
 * link-local and cloud-metadata destinations — checked on the literal host, on every DNS answer
 * (at connect time, so rebinding cannot sneak past) and on every redirect hop — unless `allowHosts` lists the host.
 */
export function createHttpRequestTool(options: HttpRequestToolOptions = {}): AgentTool {
  const allow = new Set((options.allowHosts ?? []).map((host) => host.toLowerCase().replace(/^\[|\]$/g, '')));
  const maxBytes = options.maxResponseBytes ?? 512 * 1024;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxRedirects = options.maxRedirects ?? 5;

  const resolveHost =
    options.resolveHost ??
    ((hostname: string) =>
      new Promise<LookupAddress[]>((resolve, reject) =>
        dnsLookup(hostname, { all: true }, (error, addresses) =>
          error ? reject(error) : resolve(addresses),
        ),
      ));

  const guardedLookup: LookupFunction = (hostname, lookupOptions, callback) => {
    resolveHost(hostname).then(
      (addresses) => {
        const bad = addresses.find((entry) => isNonPublicAddress(entry.address));
        if (bad && !allow.has(hostname.toLowerCase())) {
          return callback(refused(hostname, `it resolves to non-public address ${bad.address}`), '', 4);
        }
        if (lookupOptions.all)
          return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
        const first = addresses[0];
        if (!first) return callback(new Error(`no address for ${hostname}`), '', 4);
        return callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 4),
    );
  };

  function checkUrl(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw refused(raw, 'not an absolute URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw refused(raw, 'only http and https are allowed');
    const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
    if (allow.has(host)) return url;
    if (isMetadataHostname(host)) throw refused(raw, 'cloud metadata endpoints are blocked');
    if (host === 'localhost' || host.endsWith('.localhost')) throw refused(raw, 'loopback hosts are blocked');
    const kind = isIP(host) !== 0 ? blockedAddressKind(host) : undefined;
    if (kind === 'cloud metadata') throw refused(raw, `${host} is a cloud metadata endpoint`);
    if (kind) throw refused(raw, `${host} is a ${kind} address`);
    return url;
  }

  function once(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal,
  ): Promise<{
    status: number;
    location?: string;
    contentType: string | null;
    body: string;
    truncated: boolean;
  }> {
    return new Promise((resolve, reject) => {
      const transport = url.protocol === 'https:' ? https : http;
      const request = transport.request(
        url,
        { method, headers, signal, lookup: guardedLookup },
        (response) => {
          const status = response.statusCode ?? 0;
          const location = response.headers.location;
          if (status >= 300 && status < 400 && location) {
            response.resume();
            resolve({ status, location, contentType: null, body: '', truncated: false });
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          let truncated = false;
          response.on('data', (chunk: Buffer) => {
            if (truncated) return;
            if (size + chunk.length > maxBytes) {
              chunks.push(chunk.subarray(0, maxBytes - size));
              size = maxBytes;
              truncated = true;
              response.destroy();
              finish();
              return;
            }
            chunks.push(chunk);
            size += chunk.length;
          });
          let done = false;
          const finish = (): void => {
            if (done) return;
            done = true;
            resolve({
              status,
              contentType: response.headers['content-type'] ?? null,
              body: Buffer.concat(chunks).toString('utf8'),
              truncated,
            });
          };
          response.on('end', finish);
          response.on('error', (error) => (truncated ? finish() : reject(error)));
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  }

  return defineTool({
    name: 'http_request',
    description:
      'Fetch a public web URL with GET or POST. Returns status, content type and (size-limited) body text. Private and internal addresses are refused.',
    input,
    async handler(args, context): Promise<HttpRequestResult> {
      // One controller and a timer we hold ourselves: a composite of AbortSignal.timeout holds the
      // timeout signal only weakly, so a garbage collection could drop it and the limit with it.
      const controller = new AbortController();
      const timer = setTimeout(
        () => controller.abort(new Error(`timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onAbort = (): void => controller.abort(context.signal.reason);
      if (context.signal.aborted) onAbort();
      else context.signal.addEventListener('abort', onAbort, { once: true });
      try {
        return await fetchFollowingRedirects(args, context, controller.signal);
      } finally {
        clearTimeout(timer);
        context.signal.removeEventListener('abort', onAbort);
      }
    },
  });

  async function fetchFollowingRedirects(
    args: z.infer<typeof input>,
    context: { signal: AbortSignal },
    signal: AbortSignal,
  ): Promise<HttpRequestResult> {
    let url = checkUrl(args.url);
    let method: string = args.method ?? 'GET';
    let body = method === 'POST' ? args.body : undefined;
    const headers = { ...(args.headers ?? {}) };
    for (let hop = 0; ; hop++) {
      let response: Awaited<ReturnType<typeof once>>;
      try {
        response = await once(url, method, headers, body, signal);
      } catch (error) {
        if (error instanceof AgentsError) throw error;
        if (context.signal.aborted) throw error;
        const message = signal.aborted ? `timed out after ${timeoutMs} ms` : (error as Error).message;
        throw new AgentsError('TOOL_ERROR', `http_request to ${url.href} failed: ${message}`, {
          details: { toolName: 'http_request' },
          cause: error,
        });
      }
      if (response.location === undefined) {
        return {
          status: response.status,
          url: url.href,
          contentType: response.contentType,
          body: response.body,
          truncated: response.truncated,
        };
      }
      if (hop >= maxRedirects) throw refused(url.href, `more than ${maxRedirects} redirects`);
      url = checkUrl(new URL(response.location, url).href);
      if (
        response.status === 303 ||
        ((response.status === 301 || response.status === 302) && method === 'POST')
      ) {
        method = 'GET';
        body = undefined;
      }
    }
  }
}
