// Fetches a client's metadata document without becoming an SSRF proxy: https only (unless allowed),
// every address the host resolves to must be public (unless the host is allow-listed), and the
// connection goes to the address that was checked (the lookup itself is filtered, so a second DNS
// answer cannot rebind it). Bounded: one overall deadline, a byte cap, no redirects followed.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { lookup as dnsLookup } from 'node:dns';

const privateRanges = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const)
  privateRanges.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const)
  privateRanges.addSubnet(net, bits, 'ipv6');

/** True for loopback, private, link-local, CGNAT, multicast and unspecified addresses. */
export function isPrivateAddress(address: string): boolean {
  const v = isIP(address);
  if (v === 4) return privateRanges.check(address, 'ipv4');
  if (v !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return privateRanges.check(mapped[1], 'ipv4');
  return privateRanges.check(address, 'ipv6');
}

export interface SafeFetchOptions {
  allowHttp: boolean;
  /** Host names exempt from the private-address rule. */
  allowPrivateHosts: readonly string[];
  /** Extra trusted CA (PEM) for these fetches. */
  ca: string | undefined;
  timeoutMs: number;
  maxBytes: number;
}

export class FetchRefused extends Error {}

/** GETs `url` as JSON; throws FetchRefused with the reason when a rule or bound is broken. */
export function safeFetchJson(url: string, o: SafeFetchOptions): Promise<unknown> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return Promise.reject(new FetchRefused('not a URL'));
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && o.allowHttp))
    return Promise.reject(new FetchRefused(`${u.protocol} client ids are not allowed (https only)`));
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const exempt = o.allowPrivateHosts.includes(host);
  if (isIP(host) && !exempt && isPrivateAddress(host))
    return Promise.reject(new FetchRefused(`${host} is a private address`));
  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as unknown as { address: string; family: number }[];
      const bad = !exempt && list.find((a) => isPrivateAddress(a.address));
      if (bad) return callback(new FetchRefused(`${hostname} resolves to a private address (${bad.address})`), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
      const first = list[0];
      if (!first) return callback(new FetchRefused(`${hostname} has no address`), '', 0);
      callback(null, first.address, first.family);
    });
  };
  return new Promise((resolve, reject) => {
    const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(
      u,
      {
        method: 'GET',
        lookup,
        headers: { accept: 'application/json' },
        ...(o.ca !== undefined && u.protocol === 'https:' ? { ca: o.ca } : {}),
        agent: false,
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          req.destroy();
          return reject(new FetchRefused(`metadata document answered HTTP ${res.statusCode}`));
        }
        const declared = Number(res.headers['content-length']);
        if (declared > o.maxBytes) {
          req.destroy();
          return reject(new FetchRefused(`metadata document is larger than ${o.maxBytes} bytes`));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > o.maxBytes) {
            req.destroy();
            reject(new FetchRefused(`metadata document is larger than ${o.maxBytes} bytes`));
          } else chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch {
            reject(new FetchRefused('metadata document is not JSON'));
          }
        });
        res.on('error', (err) => reject(new FetchRefused(err.message)));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      reject(new FetchRefused(`metadata document not fetched within ${o.timeoutMs} ms`));
    }, o.timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err instanceof FetchRefused ? err : new FetchRefused(`cannot fetch metadata document: ${err.message}`));
    });
    req.on('close', () => clearTimeout(timer));
    req.end();
  });
}
