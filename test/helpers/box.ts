// A unit with cell1/box1 for box WebDAV tests, the box folder on disk, and raw-socket requests
// (so the server's real HTTP parser sees exactly the bytes a hostile client would send).
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { auth, startUnit, type TestUnit } from './unit.ts';

export const box = '/cell1/box1';

export async function unitWithBox(t: ExecutionContext, overrides: Parameters<typeof startUnit>[0] = {}, options: { dataDir?: string } = {}): Promise<TestUnit> {
  const unit = await startUnit(overrides, options);
  t.teardown(() => unit.stop());
  if (!options.dataDir) {
    await unit.createCell('cell1');
    await unit.createBox('cell1', 'box1');
  }
  return unit;
}

/** The folder of a box of cell1 on disk. */
export async function boxDir(unit: TestUnit, name = 'box1'): Promise<string> {
  const { contents, store } = unit.server.cellar;
  const cell = store.findCell('cell1')!;
  if (name === '__') return contents.boxDir(cell, '__');
  const record = (await contents.odata(cell)).data.boxes.find((candidate) => candidate.Name === name)!;
  return contents.boxDir(cell, record._id);
}

export function put(unit: TestUnit, url: string, payload: string | Buffer, headers: Record<string, string> = {}) {
  return unit.as({ method: 'PUT', url, payload, headers: { 'content-type': 'text/plain', ...headers } });
}

export function propfind(unit: TestUnit, url: string, depth: '0' | '1', body = '') {
  return unit.as({ method: 'PROPFIND', url, payload: body, headers: { depth, 'content-type': 'application/xml' } });
}

export function hrefsOf(multistatus: string): string[] {
  return [...multistatus.matchAll(/<D:href>([^<]*)<\/D:href>/g)].map((match) => match[1]!).sort();
}

export interface RawAnswer { status: number; head: string; body: string }

/**
 * One request over a raw socket. `lines` are header lines after the request line; Host,
 * Authorization and Connection: close are added. Resolves with what came back (status 0: nothing).
 */
export function rawRequest(baseUrl: string, requestLine: string, lines: string[] = [], body = ''): Promise<RawAnswer> {
  const { port } = new URL(baseUrl);
  const head = [requestLine, 'Host: 127.0.0.1', `Authorization: ${auth.authorization}`, ...lines];
  if (body !== '' && !lines.some((line) => /^content-length:/i.test(line))) head.push(`Content-Length: ${Buffer.byteLength(body)}`);
  head.push('Connection: close');
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => socket.destroy(), 10_000);
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => { answer += chunk; });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const split = answer.indexOf('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0), head: split < 0 ? answer : answer.slice(0, split), body: split < 0 ? '' : answer.slice(split + 4) });
    });
    socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
  });
}

export async function until(condition: () => Promise<boolean>, attempts = 100): Promise<boolean> {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    if (await condition()) return true;
    await sleep(20);
  }
  return false;
}

/** The server answers a plain request after whatever came before. */
export async function isAlive(unit: TestUnit): Promise<boolean> {
  const res = await fetch(`${unit.url}/__health`).catch(() => undefined);
  return res?.status === 200;
}

export const proppatchBody = (props: string, ns = 'http://example.com/ns/') => `<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="${ns}"><D:set><D:prop>${props}</D:prop></D:set></D:propertyupdate>`;

export const lockBody = (scope: 'exclusive' | 'shared', owner = 'tester') => `<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:${scope}/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>${owner}</D:owner></D:lockinfo>`;
