// The entity keys the online store holds, read through the feature-server's paged admin listing,
// so "a fraction of entities" means a fraction of what is really there.
import type { PipelineEndpoints } from '../platforms/platform.ts';

export async function listEntities(ep: PipelineEndpoints): Promise<string[]> {
  const ids: string[] = [];
  let after = '';
  for (;;) {
    const q = `limit=1000${after ? `&after=${encodeURIComponent(after)}` : ''}`;
    const res = await fetch(`${ep.featureServer}/v1/admin/rows?${q}`, {
      headers: { authorization: `Bearer ${ep.adminToken}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok)
      throw new Error(`listing the online store's entities: HTTP ${res.status} ${await res.text()}`);
    const page = (await res.json()) as { rows: { user_id: string }[]; next_after?: string | null };
    ids.push(...page.rows.map((r) => r.user_id));
    if (!page.next_after || page.rows.length === 0) return ids;
    after = page.next_after;
  }
}
