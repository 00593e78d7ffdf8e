// Port-forward access (FAULTLINE_KUBE_ACCESS=port-forward), for clusters whose service and pod
// networks the host does not route (kind, k3d, a remote cluster): a local 127.0.0.1 port per Service
// or pod, each TCP connection tunnelled through the API server to a Ready pod (pods/portforward, in
// the shipped Role). A Service's pod is chosen per connection, so a replacement is followed; the
// tunnels to a pod that is gone are cut (a tunnel does not notice its pod died, and a kept-alive
// connection through it would hang). The tunnels live in the process that opened them: cleanup
// after a kill -9 opens its own.
import net from 'node:net';
import * as k8s from '@kubernetes/client-node';

export class Forwards {
  private readonly forward: k8s.PortForward;
  private readonly servers = new Map<string, { server: net.Server; url: string }>();
  private readonly namespace: string;
  /** Open connections by the pod they are tunnelled to. */
  private readonly sockets = new Map<string, Set<net.Socket>>();

  constructor(kc: k8s.KubeConfig, namespace: string) {
    this.namespace = namespace;
    this.forward = new k8s.PortForward(kc);
  }

  /**
   * A local base URL reaching `port` on a Ready pod of the Service: `pick` names one (the platform's
   * pod watch), else the API is asked at each connection.
   */
  service(name: string, port: number, pick?: () => string | undefined): Promise<string> {
    return this.open(`svc/${name}:${port}`, (socket) => {
      const pod = pick?.();
      if (pick && !pod) return Promise.reject(new Error(`no Ready pod behind Service ${name}`));
      if (pod) return this.tunnel(pod, port, socket);
      return this.forward.portForwardService(this.namespace, name, [port], socket, null, socket);
    });
  }

  /** A local base URL reaching `port` on one pod. */
  pod(name: string, port: number): Promise<string> {
    return this.open(`pod/${name}:${port}`, (socket) => this.tunnel(name, port, socket));
  }

  /** The pod is gone: cut its tunnels and close its own forwards. */
  dropPod(name: string): void {
    for (const s of this.sockets.get(name) ?? []) s.destroy();
    this.sockets.delete(name);
    for (const [key, s] of this.servers)
      if (key.startsWith(`pod/${name}:`)) {
        s.server.close();
        this.servers.delete(key);
      }
  }

  close(): void {
    for (const s of this.servers.values()) s.server.close();
    this.servers.clear();
    for (const set of this.sockets.values()) for (const s of set) s.destroy();
    this.sockets.clear();
  }

  private tunnel(pod: string, port: number, socket: net.Socket) {
    const set = this.sockets.get(pod) ?? new Set<net.Socket>();
    this.sockets.set(pod, set);
    set.add(socket);
    socket.once('close', () => set.delete(socket));
    return this.forward.portForward(this.namespace, pod, [port], socket, null, socket);
  }

  private async open(key: string, connect: (socket: net.Socket) => Promise<unknown>): Promise<string> {
    const existing = this.servers.get(key);
    if (existing) return existing.url;
    const server = net.createServer((socket) => {
      // A refused or broken tunnel closes the client's connection (an error event here would be an
      // uncaught exception of the runner: the client sees the connection reset instead).
      socket.on('error', () => undefined);
      connect(socket).catch(() => socket.destroy());
    });
    // Never what keeps a process alive (`pipeline status` attaches and exits).
    server.unref();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    this.servers.set(key, { server, url });
    return url;
  }
}
