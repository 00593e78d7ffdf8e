// The reference pipeline's shape: its services and the network links between them. One source of
// truth for these names, below both the scenario format (what a fault may name) and the platforms
// (what they start and proxy).

/** The pipeline's services, in start order (dependencies first). */
export const SERVICES = ['registry', 'feature-server', 'model-server', 'gateway', 'controller'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** Dependencies whose full outage the pipeline is built to degrade through (dependency-outage). */
export const OUTAGE_SERVICES = ['feature-server', 'registry'] as const satisfies readonly ServiceName[];

/**
 * The link families, `<from>-><to>`. `gateway->model-server` is one link per replica
 * (`gateway->model-server-<i>`); as a name it selects every replica's link.
 */
export const LINKS = [
  'gateway->model-server',
  'model-server->feature-server',
  'model-server->registry',
] as const;

/** The replica a canary rollout serves from, when the pipeline is started with one. */
export const CANARY_REPLICA = 'canary';

export interface TopologyOptions {
  replicas: number;
  /** A model-server replica serving alias `challenger` (`pipeline up --canary`). */
  canary?: boolean;
}

/** Every concrete link of a pipeline with these options: what a platform can put a fault proxy on. */
export function pipelineLinks({ replicas, canary = false }: TopologyOptions): string[] {
  return [
    'model-server->feature-server',
    'model-server->registry',
    ...Array.from({ length: replicas }, (_, i) => `${REPLICATED}-${i}`),
    ...(canary ? [`${REPLICATED}-${CANARY_REPLICA}`] : []),
  ];
}

const REPLICATED: (typeof LINKS)[number] = 'gateway->model-server';
const selector = (replica: string) =>
  new RegExp(`^(?:${LINKS.map((l) => (l === REPLICATED ? `${l}(?:-(?:${replica}))?` : l)).join('|')})$`);
/** Pattern of the link names a scenario may use (the JSON Schema's `pattern`). */
export const LINK_SELECTOR = selector('\\d+');
const SELECTOR_WITH_CANARY = selector(`\\d+|${CANARY_REPLICA}`);

/**
 * A link name or family a fault or `--fault-links` may name. The canary's link exists only on a
 * pipeline started with a canary replica (`pipeline up --canary`); a scenario run never starts one,
 * so scenarios cannot name it (it would fail at injection, not at validation).
 */
export function isLinkSelector(s: string, { canary = false }: { canary?: boolean } = {}): boolean {
  return (canary ? SELECTOR_WITH_CANARY : LINK_SELECTOR).test(s);
}

/** `gateway->model-server` selects every replica's link; any other name selects itself. */
export function selectsLink(selector: string, link: string): boolean {
  return link === selector || link.startsWith(`${selector}-`);
}
