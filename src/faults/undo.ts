// Reverting a fault from its UndoRecord alone: used by the runner and by `faultline cleanup`. The
// record names services and links; `target` is the pipeline they are resolved against (the started
// platform, or one re-attached after the runner died).
import { RegistryClient } from '../pipeline/registry/client.ts';
import type { PipelineEndpoints, ServiceName } from '../platforms/platform.ts';
import { http, type LoadHooks, type UndoRecord } from './fault.ts';

const CHUNK = 500;

export interface UndoTarget {
  endpoints: PipelineEndpoints;
  /** Resolves with a note instead when the service cannot be started (see AttachedPlatform). */
  startService(service: ServiceName): Promise<string | undefined | void>;
  /** The running load (a drift transform lives only there); absent after the runner died. */
  load?: LoadHooks;
}

export async function applyUndo(undo: UndoRecord, target: UndoTarget): Promise<string> {
  const { featureServer, toxiproxy, registry, adminToken } = target.endpoints;
  switch (undo.kind) {
    case 'none':
      return `nothing to revert (${undo.reason})`;
    case 'feature-rows': {
      // Exact prior values back, and entities that did not exist before removed again.
      for (let i = 0; i < undo.rows.length; i += CHUNK) {
        await http(
          'PUT',
          `${featureServer}/v1/admin/rows`,
          { rows: undo.rows.slice(i, i + CHUNK) },
          adminToken,
        );
      }
      for (let i = 0; i < undo.absent.length; i += CHUNK) {
        const q = undo.absent
          .slice(i, i + CHUNK)
          .map((u) => `user_id=${encodeURIComponent(u)}`)
          .join('&');
        await http('DELETE', `${featureServer}/v1/admin/rows?${q}`, undefined, adminToken);
      }
      return `restored ${undo.rows.length} rows`;
    }
    case 'toxic': {
      const res = await fetch(
        `${toxiproxy}/proxies/${encodeURIComponent(undo.link)}/toxics/${encodeURIComponent(undo.toxic)}`,
        {
          method: 'DELETE',
          headers: { authorization: `Bearer ${adminToken}` },
          signal: AbortSignal.timeout(5000),
        },
      );
      if (!res.ok && res.status !== 404)
        throw new Error(`removing toxic ${undo.toxic} from ${undo.link}: HTTP ${res.status}`);
      return `removed toxic ${undo.toxic} from ${undo.link}`;
    }
    case 'link-enabled':
      await http(
        'POST',
        `${toxiproxy}/proxies/${encodeURIComponent(undo.link)}`,
        { enabled: true },
        adminToken,
      );
      return `re-enabled link ${undo.link}`;
    case 'service-stopped':
      return (await target.startService(undo.service as ServiceName)) || `started ${undo.service} again`;
    case 'alias': {
      const client = new RegistryClient({ url: registry, token: adminToken });
      const current = await client.getAlias(undo.model, undo.alias);
      // The controller may already have rolled back: only move the alias if it still points at the bad version.
      if (current?.version !== undo.injected)
        return `alias ${undo.alias} already at v${current?.version ?? '-'}; left alone`;
      await client.setAlias(undo.model, undo.alias, undo.previous);
      return `alias ${undo.model}@${undo.alias} moved back to v${undo.previous}`;
    }
    case 'many': {
      const results: string[] = [];
      for (const u of undo.undos) results.push(await applyUndo(u, target));
      return results.join('; ');
    }
    case 'load-transform':
      // After a crash the load died with the runner, and its transform with it.
      if (!target.load) return 'drift transform ended with its load';
      await target.load.setTransform(undo.id, undefined);
      return 'drift transform removed from the load';
  }
}
