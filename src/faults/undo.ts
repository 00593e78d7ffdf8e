// Reverting a fault from its UndoRecord alone: used by the runner and by `faultline cleanup`.
import { RegistryClient } from '../pipeline/registry/client.ts';
import type { Platform, ServiceName } from '../platforms/platform.ts';
import { http, type LoadHooks, type UndoRecord } from './fault.ts';

const CHUNK = 500;

export async function applyUndo(
  undo: UndoRecord,
  live?: { platform?: Platform; load?: LoadHooks },
): Promise<string> {
  switch (undo.kind) {
    case 'none':
      return `nothing to revert (${undo.reason})`;
    case 'feature-rows': {
      // Exact prior values back, and entities that did not exist before removed again.
      for (let i = 0; i < undo.rows.length; i += CHUNK) {
        await http(
          'PUT',
          `${undo.featureServer}/v1/admin/rows`,
          { rows: undo.rows.slice(i, i + CHUNK) },
          undo.token,
        );
      }
      for (let i = 0; i < undo.absent.length; i += CHUNK) {
        const q = undo.absent
          .slice(i, i + CHUNK)
          .map((u) => `user_id=${encodeURIComponent(u)}`)
          .join('&');
        await http('DELETE', `${undo.featureServer}/v1/admin/rows?${q}`, undefined, undo.token);
      }
      return `restored ${undo.rows.length} rows`;
    }
    case 'toxic': {
      const res = await fetch(
        `${undo.toxiproxy}/proxies/${encodeURIComponent(undo.proxy)}/toxics/${encodeURIComponent(undo.toxic)}`,
        {
          method: 'DELETE',
          signal: AbortSignal.timeout(5000),
        },
      );
      if (!res.ok && res.status !== 404)
        throw new Error(`removing toxic ${undo.toxic} from ${undo.proxy}: HTTP ${res.status}`);
      return `removed toxic ${undo.toxic} from ${undo.proxy}`;
    }
    case 'proxy-enabled':
      await http('POST', `${undo.toxiproxy}/proxies/${encodeURIComponent(undo.proxy)}`, { enabled: true });
      return `re-enabled link ${undo.proxy}`;
    case 'service-stopped':
      if (!live?.platform) return `service ${undo.service} is gone with its platform`;
      await live.platform.startService(undo.service as ServiceName);
      return `started ${undo.service} again`;
    case 'alias': {
      const client = new RegistryClient({ url: undo.registry, token: undo.token });
      const current = await client.getAlias(undo.model, undo.alias);
      // The controller may already have rolled back: only move the alias if it still points at the bad version.
      if (current?.version !== undo.injected)
        return `alias ${undo.alias} already at v${current?.version ?? '-'}; left alone`;
      await client.setAlias(undo.model, undo.alias, undo.previous);
      return `alias ${undo.model}@${undo.alias} moved back to v${undo.previous}`;
    }
    case 'many': {
      const results: string[] = [];
      for (const u of undo.undos) results.push(await applyUndo(u, live));
      return results.join('; ');
    }
    case 'load-transform':
      await live?.load?.setTransform(undo.id, undefined);
      return 'drift transform removed from the load';
  }
}
