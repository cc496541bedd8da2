// Redis for tests: find (or start) the shared local Redis; a TCP proxy in front of it that a test
// can pause, close and reopen to simulate an outage without touching the real server; and a
// throwaway Redis Cluster of our own.
import { execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tempDir } from './tmp.js';

export const REDIS_HOST = '127.0.0.1';
export const REDIS_PORT = 6379;

/** Deletes a test run's keys (everything under `prefix`): tests leave the shared Redis as they found it. */
export async function dropPrefix(
  redis: { keys(p: string): Promise<string[]>; del(...k: string[]): Promise<number> },
  prefix: string,
): Promise<void> {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
}

function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, REDIS_HOST);
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** True when Redis answers at 127.0.0.1:6379, starting a throwaway one if none does. */
export async function ensureRedis(): Promise<boolean> {
  if (await ping(REDIS_PORT)) return true;
  const started = await new Promise<boolean>((resolve) =>
    execFile(
      'redis-server',
      ['--daemonize', 'yes', '--bind', REDIS_HOST, '--port', String(REDIS_PORT), '--save', '', '--appendonly', 'no'],
      (err) => resolve(!err),
    ),
  );
  if (!started) return false;
  for (let i = 0; i < 50; i++) {
    if (await ping(REDIS_PORT)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

export interface TcpProxy {
  port: number;
  /** Stops moving bytes both ways; connections stay open (a network blackhole). */
  pause(): void;
  resume(): void;
  /** Refuses new connections and resets the open ones (Redis gone). */
  close(): Promise<void>;
  /** Listens again on the same port. */
  reopen(): Promise<void>;
}

/** A byte-for-byte TCP forwarder to `targetPort`. */
export async function startProxy(targetPort = REDIS_PORT): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let paused = false;
  let port = 0;
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, REDIS_HOST);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
    if (paused) {
      client.pause();
      upstream.pause();
    }
  });
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, REDIS_HOST, () => {
        server.off('error', reject);
        port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  await listen();
  return {
    get port() {
      return port;
    },
    pause() {
      paused = true;
      for (const [a, b] of pairs) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
    },
    resume() {
      paused = false;
      for (const [a, b] of pairs) {
        a.pipe(b);
        b.pipe(a);
        a.resume();
        b.resume();
      }
    },
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const [a, b] of pairs) {
        a.resetAndDestroy();
        b.destroy();
      }
      pairs.clear();
      await closed;
    },
    reopen: listen,
  };
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, REDIS_HOST, () => s.close(() => resolve(true)));
  });
}

export interface TestCluster {
  ports: number[];
  stop(): Promise<void>;
}

/**
 * A throwaway 3-master Redis Cluster (own processes, own temp dir; the shared Redis is untouched),
 * or undefined if redis-server/redis-cli cannot build one here.
 */
export async function startCluster(): Promise<TestCluster | undefined> {
  const ports: number[] = [];
  for (let p = 20000 + Math.floor(Math.random() * 9000); ports.length < 3 && p < 29990; p++) {
    if ((await portFree(p)) && (await portFree(p + 10000))) ports.push(p); // +10000: the cluster bus
  }
  const dir = tempDir('tollgate-cluster-');
  const procs = ports.map((p) =>
    spawn(
      'redis-server',
      [
        '--port',
        String(p),
        '--bind',
        REDIS_HOST,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${p}.conf`,
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ],
      { stdio: 'ignore' },
    ),
  );
  const stop = async () => {
    await Promise.all(
      procs.map(
        (c) =>
          new Promise<void>((r) => {
            if (c.exitCode !== null || c.signalCode !== null) return r();
            c.once('exit', () => r());
            c.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  const cli = (args: string[]) =>
    new Promise<string | undefined>((resolve) =>
      execFile('redis-cli', args, { timeout: 20_000 }, (err, out) => resolve(err ? undefined : out)),
    );
  try {
    for (const p of ports)
      for (let i = 0; i < 300 && !(await ping(p)); i++) await new Promise((r) => setTimeout(r, 100)); // bounded, generous under load
    if (
      ports.length < 3 ||
      (await cli([
        '--cluster',
        'create',
        ...ports.map((p) => `${REDIS_HOST}:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ])) === undefined
    )
      throw new Error('cluster create failed');
    for (let i = 0; i < 300; i++) {
      const infos = await Promise.all(ports.map((p) => cli(['-p', String(p), 'cluster', 'info'])));
      if (infos.every((s) => s?.includes('cluster_state:ok'))) return { ports, stop };
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('cluster never became ok');
  } catch {
    await stop();
    return undefined;
  }
}
