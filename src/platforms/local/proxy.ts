// A TCP fault proxy with Toxiproxy's semantics, so the local platform can inject network faults on a
// link without installing anything. Toxics apply to live connections too: keep-alive pools between
// services see the fault as soon as it is added, as they would with Toxiproxy.
import net from 'node:net';

export type ToxicType = 'latency' | 'timeout' | 'reset_peer' | 'bandwidth' | 'slow_close' | 'limit_data';

export interface Toxic {
  name: string;
  type: ToxicType;
  /** downstream = upstream server → client (Toxiproxy's default); upstream = client → server. */
  stream: 'upstream' | 'downstream';
  /** Probability (0–1) that a new connection is affected. */
  toxicity: number;
  attributes: Record<string, number>;
}

export interface ProxyState {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: Toxic[];
}

interface Conn {
  client: net.Socket;
  server: net.Socket;
  /** Toxic names that won this connection's toxicity roll. */
  affected: Map<string, boolean>;
  /** Per direction: when the last delayed chunk is due, so delays keep byte order. */
  due: { upstream: number; downstream: number };
  timers: Set<NodeJS.Timeout>;
  /** Chunks held back by a timeout toxic, released in order when it is removed. */
  held: { upstream: (Buffer | null)[]; downstream: (Buffer | null)[] };
}

export class FaultProxy {
  readonly name: string;
  readonly listenHost: string;
  listenPort: number;
  upstreamHost: string;
  upstreamPort: number;
  private enabled = true;
  private toxics = new Map<string, Toxic>();
  private conns = new Set<Conn>();
  private server?: net.Server;
  private random: () => number;

  constructor(opts: { name: string; listen: string; upstream: string; random?: () => number }) {
    this.name = opts.name;
    [this.listenHost, this.listenPort] = splitHostPort(opts.listen);
    [this.upstreamHost, this.upstreamPort] = splitHostPort(opts.upstream);
    this.random = opts.random ?? Math.random;
  }

  state(): ProxyState {
    return {
      name: this.name,
      listen: `${this.listenHost}:${this.listenPort}`,
      upstream: `${this.upstreamHost}:${this.upstreamPort}`,
      enabled: this.enabled,
      toxics: [...this.toxics.values()],
    };
  }

  async start(): Promise<void> {
    if (this.server) return;
    // Half-open sockets let a FIN travel behind delayed data instead of cutting it off.
    const server = net.createServer({ allowHalfOpen: true }, (client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, this.listenHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.listenPort = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Disabling closes the listener and cuts every connection: peers see connection refused (Toxiproxy "down"). */
  async setEnabled(enabled: boolean): Promise<void> {
    if (enabled === this.enabled) return;
    this.enabled = enabled;
    if (enabled) {
      await this.start();
    } else {
      // server.close() calls back only once every connection has ended: cut them before waiting, or a
      // keep-alive peer holds the call (and the Toxiproxy API request) until it goes idle.
      const closing = this.stopListening();
      for (const c of this.conns) this.destroy(c);
      await closing;
    }
  }

  addToxic(
    t: Omit<Toxic, 'name' | 'stream' | 'toxicity'> & Partial<Pick<Toxic, 'name' | 'stream' | 'toxicity'>>,
  ): Toxic {
    const toxic: Toxic = {
      name: t.name ?? `${t.type}_${t.stream ?? 'downstream'}`,
      type: t.type,
      stream: t.stream ?? 'downstream',
      toxicity: t.toxicity ?? 1,
      attributes: { ...t.attributes },
    };
    if (this.toxics.has(toxic.name))
      throw new ProxyError(409, `toxic ${toxic.name} already exists on ${this.name}`);
    this.toxics.set(toxic.name, toxic);
    for (const c of this.conns) this.applyNewToxic(c, toxic);
    return toxic;
  }

  removeToxic(name: string): void {
    if (!this.toxics.delete(name)) throw new ProxyError(404, `toxic ${name} not found on ${this.name}`);
    for (const c of this.conns) {
      c.affected.delete(name);
      // A paused direction (timeout toxic) resumes once nothing holds it.
      for (const stream of ['upstream', 'downstream'] as const) {
        if (this.isHeld(c, stream)) continue;
        const pending = c.held[stream].splice(0);
        for (const chunk of pending) this.forward(c, stream, chunk);
        (stream === 'upstream' ? c.client : c.server).resume();
      }
    }
  }

  resetToxics(): void {
    for (const name of [...this.toxics.keys()]) this.removeToxic(name);
  }

  async close(): Promise<void> {
    this.enabled = false;
    const closing = this.stopListening();
    for (const c of this.conns) this.destroy(c);
    await closing;
  }

  private async stopListening() {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private accept(client: net.Socket) {
    if (!this.enabled) {
      client.destroy();
      return;
    }
    const server = net.connect({ port: this.upstreamPort, host: this.upstreamHost, allowHalfOpen: true });
    const conn: Conn = {
      client,
      server,
      affected: new Map(),
      due: { upstream: 0, downstream: 0 },
      timers: new Set(),
      held: { upstream: [], downstream: [] },
    };
    this.conns.add(conn);
    client.setNoDelay(true);
    server.setNoDelay(true);
    for (const t of this.toxics.values()) this.applyNewToxic(conn, t);
    const cleanup = () => this.destroy(conn);
    const closed = () => {
      if (client.destroyed && server.destroyed) this.destroy(conn);
    };
    client.on('error', cleanup).on('close', closed);
    server.on('error', cleanup).on('close', closed);
    client.on('data', (chunk) => this.forward(conn, 'upstream', chunk));
    server.on('data', (chunk) => this.forward(conn, 'downstream', chunk));
    client.on('end', () => this.forward(conn, 'upstream', null));
    server.on('end', () => this.forward(conn, 'downstream', null));
  }

  private applyNewToxic(c: Conn, t: Toxic) {
    const hit = this.random() < t.toxicity;
    c.affected.set(t.name, hit);
    if (!hit) return;
    if (t.type === 'timeout') {
      // Data stops flowing; after `timeout` ms the connection is closed (0 = hold it open forever).
      (t.stream === 'upstream' ? c.client : c.server).pause();
      const ms = t.attributes.timeout ?? 0;
      if (ms > 0) this.later(c, ms, () => this.destroy(c));
    } else if (t.type === 'reset_peer') {
      const reset = () => {
        c.client.resetAndDestroy();
        c.server.destroy();
      };
      // timeout 0: reset at once, as Toxiproxy does. A 0 ms timer could let a quick exchange through
      // first when the process is starved (the timer fires a loop iteration late).
      const ms = t.attributes.timeout ?? 0;
      if (ms > 0) this.later(c, ms, reset);
      else reset();
    }
  }

  private isHeld(c: Conn, stream: 'upstream' | 'downstream') {
    for (const t of this.toxics.values()) {
      if (t.type === 'timeout' && t.stream === stream && c.affected.get(t.name)) return true;
    }
    return false;
  }

  /** Moves a chunk (or, for null, the end of the stream) across, through every toxic on that direction. */
  private forward(c: Conn, stream: 'upstream' | 'downstream', chunk: Buffer | null) {
    const out = stream === 'upstream' ? c.server : c.client;
    const deliver = () => {
      if (out.destroyed) return;
      if (chunk === null) out.end();
      else out.write(chunk);
    };
    let delay = 0;
    for (const t of this.toxics.values()) {
      if (t.stream !== stream || !c.affected.get(t.name)) continue;
      if (t.type === 'latency') {
        const jitter = t.attributes.jitter ?? 0;
        delay += Math.max(0, (t.attributes.latency ?? 0) + (jitter ? (this.random() * 2 - 1) * jitter : 0));
      } else if (t.type === 'bandwidth') {
        const kbps = t.attributes.rate ?? 0;
        if (kbps > 0 && chunk) delay += (chunk.length / (kbps * 1024)) * 1000;
      } else if (t.type === 'timeout') {
        c.held[stream].push(chunk);
        return;
      }
    }
    if (delay <= 0 && c.due[stream] <= Date.now()) {
      deliver();
      return;
    }
    const due = Math.max(Date.now() + delay, c.due[stream]);
    c.due[stream] = due;
    this.later(c, due - Date.now(), deliver);
  }

  private later(c: Conn, ms: number, fn: () => void) {
    const timer = setTimeout(() => {
      c.timers.delete(timer);
      fn();
    }, ms);
    c.timers.add(timer);
  }

  private destroy(c: Conn) {
    if (!this.conns.delete(c)) return;
    for (const t of c.timers) clearTimeout(t);
    c.client.destroy();
    c.server.destroy();
  }

  get connections() {
    return this.conns.size;
  }
}

export class ProxyError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function splitHostPort(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  if (i < 0) throw new Error(`address "${addr}": expected host:port`);
  const port = Number(addr.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`address "${addr}": invalid port`);
  return [addr.slice(0, i), port];
}
